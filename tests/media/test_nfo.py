from datetime import date

import pytest

from media.nfo import NfoData, NfoError, NfoPerson, parse_nfo

MOVIE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<movie>
  <title>The Matrix</title>
  <originaltitle>The Matrix</originaltitle>
  <sorttitle>Matrix 1</sorttitle>
  <year>1999</year>
  <premiered>1999-03-31</premiered>
  <plot>A hacker learns the truth &amp; fights.</plot>
  <runtime>136</runtime>
  <mpaa>Rated R</mpaa>
  <genre>Action</genre>
  <genre>Science Fiction / Thriller</genre>
  <studio>Warner Bros.</studio>
  <tag>cyberpunk</tag>
  <uniqueid type="tmdb" default="true">603</uniqueid>
  <uniqueid type="imdb">tt0133093</uniqueid>
  <director>Lana Wachowski</director>
  <director>Lilly Wachowski</director>
  <credits>Lilly Wachowski</credits>
  <actor><name>Keanu Reeves</name><role>Neo</role><order>0</order></actor>
  <actor><name>Carrie-Anne Moss</name><role>Trinity</role><order>1</order></actor>
</movie>
"""


def _write(tmp_path, text, name="movie.nfo"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_parse_movie(tmp_path):
    data = parse_nfo(_write(tmp_path, MOVIE))

    assert data == NfoData(
        root="movie",
        title="The Matrix",
        original_title="The Matrix",
        sort_title="Matrix 1",
        year=1999,
        premiered=date(1999, 3, 31),
        plot="A hacker learns the truth & fights.",
        runtime_minutes=136,
        genres=("Action", "Science Fiction", "Thriller"),
        people=(
            NfoPerson("Keanu Reeves", "actor", "Neo", 0),
            NfoPerson("Carrie-Anne Moss", "actor", "Trinity", 1),
            NfoPerson("Lana Wachowski", "director", None, 0),
            NfoPerson("Lilly Wachowski", "director", None, 1),
            NfoPerson("Lilly Wachowski", "writer", None, 0),
        ),
        provider_ids={"tmdb": "603", "imdb": "tt0133093"},
        studios=("Warner Bros.",),
        tags=("cyberpunk",),
        mpaa="Rated R",
    )


def test_parse_legacy_ids(tmp_path):
    text = "<movie><title>X</title><id>tt0111161</id><tmdbid>278</tmdbid></movie>"

    data = parse_nfo(_write(tmp_path, text))

    assert data.provider_ids == {"tmdb": "278", "imdb": "tt0111161"}


def test_parse_tvshow_with_tvdb(tmp_path):
    text = """<tvshow><title>The Office</title><premiered>2005-03-24</premiered>
    <uniqueid type="tvdb">73244</uniqueid><tvdbid>1</tvdbid><season>-1</season></tvshow>"""

    data = parse_nfo(_write(tmp_path, text, "tvshow.nfo"))

    assert (data.root, data.title, data.year) == ("tvshow", "The Office", 2005)
    assert data.provider_ids == {"tvdb": "73244"}


def test_parse_episode(tmp_path):
    text = """<episodedetails><title>Pilot</title><season>1</season><episode>1</episode>
    <aired>2005-03-24</aired></episodedetails>"""

    data = parse_nfo(_write(tmp_path, text, "s01e01.nfo"))

    assert (data.root, data.season, data.episode, data.episode_end) == (
        "episodedetails",
        1,
        1,
        None,
    )
    assert data.premiered == date(2005, 3, 24)


def test_parse_multi_episode(tmp_path):
    text = """<?xml version="1.0" encoding="UTF-8"?>
<episodedetails><title>Part 1</title><season>2</season><episode>3</episode></episodedetails>
<episodedetails><title>Part 2</title><season>2</season><episode>4</episode></episodedetails>
<episodedetails><title>Part 3</title><season>2</season><episode>5</episode></episodedetails>
"""

    data = parse_nfo(_write(tmp_path, text, "s02e03-e05.nfo"))

    assert (data.title, data.season, data.episode, data.episode_end) == ("Part 1", 2, 3, 5)


def test_parse_url_after_xml(tmp_path):
    text = MOVIE + "https://www.imdb.com/title/tt0133093/\n"

    data = parse_nfo(
        _write(tmp_path, text.replace('<uniqueid type="imdb">tt0133093</uniqueid>', ""))
    )

    assert data.title == "The Matrix"
    assert data.provider_ids == {"imdb": "tt0133093", "tmdb": "603"}


@pytest.mark.parametrize(
    ("url", "root", "ids"),
    [
        ("https://www.imdb.com/title/tt0133093/", None, {"imdb": "tt0133093"}),
        ("http://www.imdb.com/de/title/tt0133093", None, {"imdb": "tt0133093"}),
        ("https://www.themoviedb.org/movie/603-the-matrix", "movie", {"tmdb": "603"}),
        ("https://www.themoviedb.org/tv/2316-the-office", "tvshow", {"tmdb": "2316"}),
        ("https://thetvdb.com/?tab=series&id=73244", "tvshow", {"tvdb": "73244"}),
        ("https://thetvdb.com/dereferrer/series/73244", "tvshow", {"tvdb": "73244"}),
    ],
)
def test_parse_url_only(tmp_path, url, root, ids):
    data = parse_nfo(_write(tmp_path, f"{url}\n"))

    assert data == NfoData(root=root, provider_ids=ids)


def test_billion_laughs_is_refused_not_expanded(tmp_path):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    text = f'<?xml version="1.0"?><!DOCTYPE movie [{entities}]><movie><title>&lol9;</title></movie>'

    # libxml2 refuses the document outright (entity amplification limit); nothing expands.
    with pytest.raises(NfoError, match="malformed NFO"):
        parse_nfo(_write(tmp_path, text))


def test_single_entity_reference_is_left_unexpanded(tmp_path):
    text = (
        '<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY big "EXPANDED">]>'
        "<movie><title>Kept &big; here</title></movie>"
    )

    assert parse_nfo(_write(tmp_path, text)).title == "Kept  here"


def test_external_entity_is_not_loaded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (
        f'<?xml version="1.0"?><!DOCTYPE movie [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<movie><title>&xxe;</title><plot>before &xxe; after</plot></movie>"
    )

    data = parse_nfo(_write(tmp_path, text))

    assert data.title is None
    assert data.plot == "before  after"


def test_malformed_xml(tmp_path):
    with pytest.raises(NfoError, match="malformed NFO"):
        parse_nfo(_write(tmp_path, "<movie><title>Broken</movie>"))


def test_unsupported_root(tmp_path):
    with pytest.raises(NfoError, match=r"unsupported NFO root element <html>"):
        parse_nfo(_write(tmp_path, "<html><body>hi</body></html>"))


def test_empty_nfo(tmp_path):
    with pytest.raises(NfoError, match="empty NFO"):
        parse_nfo(_write(tmp_path, "  \n"))


def test_text_without_url(tmp_path):
    with pytest.raises(NfoError, match="neither XML nor a provider URL"):
        parse_nfo(_write(tmp_path, "Release notes: great rip, enjoy\n"))


def test_missing_file(tmp_path):
    with pytest.raises(NfoError, match="cannot read NFO"):
        parse_nfo(str(tmp_path / "missing.nfo"))


def test_latin1_declared_encoding(tmp_path):
    path = tmp_path / "movie.nfo"
    path.write_bytes(
        '<?xml version="1.0" encoding="ISO-8859-1"?><movie><title>Amélie</title></movie>'.encode(
            "latin-1"
        )
    )

    assert parse_nfo(str(path)).title == "Amélie"


def test_artist_and_album(tmp_path):
    artist = parse_nfo(_write(tmp_path, "<artist><name>Björk</name></artist>", "artist.nfo"))
    album = parse_nfo(
        _write(tmp_path, "<album><title>Debut</title><year>1993</year></album>", "album.nfo")
    )

    assert (artist.root, artist.title) == ("artist", "Björk")
    assert (album.root, album.title, album.year) == ("album", "Debut", 1993)
