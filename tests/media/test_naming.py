from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from media.naming import (
    Identification,
    LibraryKind,
    Sidecar,
    classify_sidecar,
    file_category,
    identify,
    is_audio,
    is_sample,
    is_video,
)

MOVIES = "/lib/movies"
TV = "/lib/tv"
MUSIC = "/lib/music"

MOVIE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("The Matrix (1999)/The Matrix (1999).mkv", {"title": "The Matrix", "year": 1999}),
    ("The Matrix (1999).mkv", {"title": "The Matrix", "year": 1999}),
    ("Movie (2010)/movie.mkv", {"title": "Movie", "year": 2010}),
    ("Movie (2010)/matrix-1080p.mkv", {"title": "Movie", "year": 2010}),
    ("Movie (2010)/cd1.avi", {"title": "Movie", "year": 2010, "part": 1}),
    ("Movie (2010)/Movie (2010) - cd2.avi", {"title": "Movie", "year": 2010, "part": 2}),
    ("Movie (2010)/Movie (2010) disc1.mkv", {"title": "Movie", "year": 2010, "part": 1}),
    ("Movie (2010)/Movie (2010)-part3.mkv", {"title": "Movie", "year": 2010, "part": 3}),
    ("Movie (2010)/Movie.2010.pt1.mkv", {"title": "Movie", "year": 2010, "part": 1}),
    ("Movie (2010)/Movie (2010)_dvd2.mkv", {"title": "Movie", "year": 2010, "part": 2}),
    ("The.Matrix.1999.1080p.BluRay.x264-GROUP.mkv", {"title": "The Matrix", "year": 1999}),
    (
        "Blade.Runner.2049.2017.2160p.UHD.BluRay.x265-TERMiNAL.mkv",
        {"title": "Blade Runner 2049", "year": 2017},
    ),
    ("2001.A.Space.Odyssey.1968.1080p.mkv", {"title": "2001 A Space Odyssey", "year": 1968}),
    ("Blade Runner 2049.mkv", {"title": "Blade Runner 2049"}),
    ("The Matrix 1999 1080p BluRay.mkv", {"title": "The Matrix", "year": 1999}),
    (
        "A.Proper.Villain.2019.PROPER.1080p.WEB-DL.DDP5.1.H.264-NTb.mkv",
        {"title": "A Proper Villain", "year": 2019},
    ),
    ("Some_Old_Film_1950.avi", {"title": "Some Old Film", "year": 1950}),
    ("Heat.720p.BluRay.mkv", {"title": "Heat"}),
    ("(500) Days of Summer (2009).mkv", {"title": "(500) Days of Summer", "year": 2009}),
    (
        "Mr. Smith Goes to Washington (1939).mkv",
        {"title": "Mr. Smith Goes to Washington", "year": 1939},
    ),
    ("1917 (2019).mp4", {"title": "1917", "year": 2019}),
    ("Movie [2004].mkv", {"title": "Movie", "year": 2004}),
    ("Movie (2010) [1080p].mkv", {"title": "Movie", "year": 2010}),
    (
        "The Matrix (1999) [tmdbid-603]/The Matrix (1999) [imdbid-tt0133093].mkv",
        {"title": "The Matrix", "year": 1999, "provider_ids": {"tmdb": "603", "imdb": "tt0133093"}},
    ),
    (
        "Movie (2010) {tmdb-603}.mkv",
        {"title": "Movie", "year": 2010, "provider_ids": {"tmdb": "603"}},
    ),
    (
        "Movie (2010) [tmdbid=42]/movie.mkv",
        {"title": "Movie", "year": 2010, "provider_ids": {"tmdb": "42"}},
    ),
    (
        "Movie (2010)/Movie (2010) - Director's Cut.mkv",
        {"title": "Movie", "year": 2010, "version": "Director's Cut"},
    ),
    ("Movie (2010) - 1080p.mkv", {"title": "Movie", "year": 2010, "version": "1080p"}),
    ("Movie/Movie - Extended Edition.mkv", {"title": "Movie", "version": "Extended Edition"}),
    ("Other/Movie (2010)/movie.mkv", {"title": "Movie", "year": 2010}),
    ("Collection/Alien (1979)/Alien (1979).mkv", {"title": "Alien", "year": 1979}),
    (
        "Amélie (2001)/Le Fabuleux Destin d'Ame\u0301lie Poulain 🎬 (2001).mkv",
        {"title": "Le Fabuleux Destin d'Ame\u0301lie Poulain 🎬", "year": 2001},
    ),
    ("فيلم (2015).mkv", {"title": "فيلم", "year": 2015}),
    ("caf\udce9 (2001).mkv", {"title": "caf\udce9", "year": 2001}),
    ("東京物語 (1953)/東京物語.mkv", {"title": "東京物語", "year": 1953}),
]


@pytest.mark.parametrize(("relative", "expected"), MOVIE_CASES)
def test_movie_names(relative: str, expected: dict[str, Any]) -> None:
    path = f"{MOVIES}/{relative}"
    assert identify(path, LibraryKind.MOVIES, MOVIES) == Identification(path, "movie", **expected)


EXTRA_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "Movie (2010)/Movie (2010)-trailer.mkv",
        {"title": "Movie", "year": 2010, "extra_type": "trailer"},
    ),
    (
        "Movie (2010)/Movie (2010).trailer.mkv",
        {"title": "Movie", "year": 2010, "extra_type": "trailer"},
    ),
    ("Movie (2010)/trailer.mp4", {"extra_type": "trailer"}),
    (
        "Movie (2010)/Movie (2010) - Featurette.mkv",
        {"title": "Movie", "year": 2010, "extra_type": "featurette"},
    ),
    (
        "Movie (2010)/Making of-behindthescenes.mkv",
        {"title": "Making of", "extra_type": "behindthescenes"},
    ),
    ("Movie (2010)/Alt ending-deleted.mkv", {"title": "Alt ending", "extra_type": "deletedscene"}),
    (
        "Movie (2010)/Alt ending-deletedscene.mkv",
        {"title": "Alt ending", "extra_type": "deletedscene"},
    ),
    ("Movie (2010)/Cast-interview.mkv", {"title": "Cast", "extra_type": "interview"}),
    ("Movie (2010)/Opening-scene.mkv", {"title": "Opening", "extra_type": "scene"}),
    ("Movie (2010)/Pixar-short.mkv", {"title": "Pixar", "extra_type": "short"}),
    ("Movie (2010)/Promo-clip.mkv", {"title": "Promo", "extra_type": "clip"}),
    ("Movie (2010)/Stuff-other.mkv", {"title": "Stuff", "extra_type": "other"}),
    ("Movie (2010)/Stuff-extra.mkv", {"title": "Stuff", "extra_type": "other"}),
    ("Movie (2010)/trailers/Teaser.mkv", {"title": "Teaser", "extra_type": "trailer"}),
    ("Movie (2010)/extras/Gag Reel.mkv", {"title": "Gag Reel", "extra_type": "other"}),
    ("Movie (2010)/featurettes/VFX.mkv", {"title": "VFX", "extra_type": "featurette"}),
    (
        "Movie (2010)/Behind The Scenes/Making Of.mkv",
        {"title": "Making Of", "extra_type": "behindthescenes"},
    ),
    (
        "Movie (2010)/deleted scenes/Scene 12.mkv",
        {"title": "Scene 12", "extra_type": "deletedscene"},
    ),
    ("Movie (2010)/interviews/Director.mkv", {"title": "Director", "extra_type": "interview"}),
    ("Movie (2010)/scenes/Chase.mkv", {"title": "Chase", "extra_type": "scene"}),
    ("Movie (2010)/shorts/Short Film.mkv", {"title": "Short Film", "extra_type": "short"}),
    ("Movie (2010)/other/Misc.mkv", {"title": "Misc", "extra_type": "other"}),
    ("Movie (2010)/extras/featurettes/VFX.mkv", {"title": "VFX", "extra_type": "featurette"}),
]


@pytest.mark.parametrize(("relative", "expected"), EXTRA_CASES)
def test_movie_extras(relative: str, expected: dict[str, Any]) -> None:
    path = f"{MOVIES}/{relative}"
    assert identify(path, LibraryKind.MOVIES, MOVIES) == Identification(path, "extra", **expected)


def test_movie_title_ending_in_an_extra_word_is_not_an_extra() -> None:
    path = f"{MOVIES}/The Interview (2014)/The Interview (2014).mkv"
    assert identify(path, LibraryKind.MOVIES, MOVIES) == Identification(
        path, "movie", title="The Interview", year=2014
    )


@pytest.mark.parametrize(
    "relative",
    [
        "Movie (2010)/Movie (2010)-sample.mkv",
        "Movie (2010)/sample.mkv",
        "Movie (2010)/Sample/movie.mkv",
        "The.Matrix.1999.1080p.BluRay.x264-GROUP/sample-the.matrix.1080p.mkv",
        "The.Matrix.1999.1080p.BluRay.x264-GROUP/the.matrix.1080p.sample.mkv",
    ],
)
def test_samples_are_ignored(relative: str) -> None:
    path = f"{MOVIES}/{relative}"
    assert identify(path, LibraryKind.MOVIES, MOVIES) == Identification(
        path, "ignored", extra_type="sample", ignored=True, reason="sample"
    )


@pytest.mark.parametrize(
    ("relative", "kind", "reason"),
    [
        (".hidden.mkv", LibraryKind.MOVIES, "hidden"),
        (".stash/Movie (2010).mkv", LibraryKind.MOVIES, "hidden"),
        ("Movie (2010)/Movie (2010).nfo", LibraryKind.MOVIES, "not a media file"),
        ("Movie (2010)/Movie (2010).iso", LibraryKind.MOVIES, "disc image"),
        ("Movie (2010)/README", LibraryKind.MOVIES, "not a media file"),
        ("Artist/Album/01 - Song.mkv", LibraryKind.MUSIC, "not a media file"),
        ("Show/Season 1/Show S01E01.flac", LibraryKind.TV, "not a media file"),
    ],
)
def test_ignored_files(relative: str, kind: LibraryKind, reason: str) -> None:
    path = f"/lib/{relative}"
    assert identify(path, kind, "/lib") == Identification(
        path, "ignored", ignored=True, reason=reason
    )


def test_movie_without_any_title_is_unknown() -> None:
    path = f"{MOVIES}/cd1.avi"
    assert identify(path, LibraryKind.MOVIES, MOVIES) == Identification(
        path, "unknown", part=1, reason="no title"
    )


def test_movie_folder_is_used_without_root() -> None:
    path = "/anywhere/Heat (1995)/movie.mkv"
    assert identify(path, LibraryKind.MOVIES) == Identification(
        path, "movie", title="Heat", year=1995
    )


EPISODE_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "Show/Season 01/Show S01E02 - Title.mkv",
        {"series": "Show", "season": 1, "episode": 2, "title": "Title"},
    ),
    (
        "Show/S01/Show S01E02E03.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3},
    ),
    (
        "Show/Season 1/Show S01E02-E03 - Two Parter.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3, "title": "Two Parter"},
    ),
    (
        "Show/Season 1/Show S01E02-03.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3},
    ),
    (
        "Show/Season 1/Show S01E02E03E04.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 4},
    ),
    ("Show/Season 1/show s1e2.mkv", {"series": "Show", "season": 1, "episode": 2}),
    ("Show/Season 1/1x02.mkv", {"series": "Show", "season": 1, "episode": 2}),
    (
        "Show/Season 1/Show 1x02-1x03.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3},
    ),
    (
        "Show/Season 1/Show S01E02-S01E03.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3},
    ),
    (
        "Show/Season 1/Show 1x02-03 - Title.mkv",
        {"series": "Show", "season": 1, "episode": 2, "episode_end": 3, "title": "Title"},
    ),
    ("Show/Season 3/Show S01E02.mkv", {"series": "Show", "season": 1, "episode": 2}),
    ("Show/Season 1/Show S01E02-720p.mkv", {"series": "Show", "season": 1, "episode": 2}),
    (
        "Show (2010) [tvdbid-81189]/Season 2/Show S02E05.mkv",
        {
            "series": "Show",
            "series_year": 2010,
            "season": 2,
            "episode": 5,
            "provider_ids": {"tvdb": "81189"},
        },
    ),
    (
        "Doctor Who (2005)/Season 01/Doctor.Who.2005.S01E01.Rose.720p.BluRay.x264-GRP.mkv",
        {"series": "Doctor Who", "series_year": 2005, "season": 1, "episode": 1, "title": "Rose"},
    ),
    ("Show/Specials/Some Special.mkv", {"series": "Show", "season": 0, "title": "Some Special"}),
    ("Show/Specials/Show S00E03.mkv", {"series": "Show", "season": 0, "episode": 3}),
    (
        "Show/Season 00/Show S00E01 - Pilot.mkv",
        {"series": "Show", "season": 0, "episode": 1, "title": "Pilot"},
    ),
    ("Show/Season 1/Episode 5.mkv", {"series": "Show", "season": 1, "episode": 5}),
    ("Show/Season 1/102.mkv", {"series": "Show", "season": 1, "episode": 2}),
    (
        "Show/Season 12/1203 - Title.mkv",
        {"series": "Show", "season": 12, "episode": 3, "title": "Title"},
    ),
    (
        "Show/Season 1/05 - Title.mkv",
        {"series": "Show", "season": 1, "episode": 5, "title": "Title"},
    ),
    ("Show/Show - 102.mkv", {"series": "Show", "episode": 102}),
    ("Show/Season 1/Show - 102.mkv", {"series": "Show", "season": 1, "episode": 2}),
    (
        "Anime/Anime - 1001 - The Title.mkv",
        {"series": "Anime", "episode": 1001, "title": "The Title"},
    ),
    ("Daily/Daily 2024-03-15.mkv", {"series": "Daily", "date": datetime.date(2024, 3, 15)}),
    (
        "Daily/Daily.2024.03.15.Guest.Name.720p.HDTV.x264-GRP.mkv",
        {"series": "Daily", "date": datetime.date(2024, 3, 15), "title": "Guest Name"},
    ),
    (
        "Show/Season 2/Show S02E03 Part 1.mkv",
        {"series": "Show", "season": 2, "episode": 3, "part": 1},
    ),
    (
        "Show.S01E02.The.Title.720p.HDTV.x264-GRP.mkv",
        {"series": "Show", "season": 1, "episode": 2, "title": "The Title"},
    ),
    ("Show.Name.S01E02.720p.HDTV.x264-GRP.mkv", {"series": "Show Name", "season": 1, "episode": 2}),
    ("Show (2019) S03E04.mkv", {"series": "Show", "series_year": 2019, "season": 3, "episode": 4}),
    ("[SubsPlease] Frieren - 05 (1080p) [ABCD1234].mkv", {"series": "Frieren", "episode": 5}),
    (
        "Shōgun 🗡/Season 1/Shōgun S01E01 - Anjin.mkv",
        {"series": "Shōgun 🗡", "season": 1, "episode": 1, "title": "Anjin"},
    ),
]


@pytest.mark.parametrize(("relative", "expected"), EPISODE_CASES)
def test_episode_names(relative: str, expected: dict[str, Any]) -> None:
    path = f"{TV}/{relative}"
    assert identify(path, LibraryKind.TV, TV) == Identification(path, "episode", **expected)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("Show/Show 102.mkv", {"series": "Show", "title": "Show 102"}),
        ("Show/Show - 1999.mkv", {"series": "Show", "title": "Show - 1999"}),
        ("Show/Show - 720p.mkv", {"series": "Show", "title": "Show"}),
        ("Show/05 - Title.mkv", {"series": "Show", "title": "05 - Title"}),
        ("Show/Daily 2024-02-30.mkv", {"series": "Show", "title": "Daily 2024-02-30"}),
        (
            "Show/Season 1/Behind it all.mkv",
            {"series": "Show", "season": 1, "title": "Behind it all"},
        ),
    ],
)
def test_ambiguous_episode_numbers_stay_unknown(relative: str, expected: dict[str, Any]) -> None:
    path = f"{TV}/{relative}"
    assert identify(path, LibraryKind.TV, TV) == Identification(
        path, "unknown", reason="no episode number", **expected
    )


def test_series_comes_from_the_show_folder_not_the_file() -> None:
    path = f"{TV}/The Office (US)/Season 2/office.s02e01.mkv"
    assert identify(path, LibraryKind.TV, TV) == Identification(
        path, "episode", series="The Office (US)", season=2, episode=1
    )


def test_series_without_root_uses_the_folder_above_the_season() -> None:
    path = "/mnt/x/Show (2001)/Season 4/Show S04E09.mkv"
    assert identify(path, LibraryKind.TV) == Identification(
        path, "episode", series="Show", series_year=2001, season=4, episode=9
    )


def test_series_without_root_or_season_folder_uses_the_parent() -> None:
    path = "/mnt/x/Show/Show S01E01.mkv"
    assert identify(path, LibraryKind.TV) == Identification(
        path, "episode", series="Show", season=1, episode=1
    )


def test_tv_extras_keep_series_and_season() -> None:
    path = f"{TV}/Show (2010)/Season 1/extras/Bloopers.mkv"
    assert identify(path, LibraryKind.TV, TV) == Identification(
        path,
        "extra",
        title="Bloopers",
        series="Show",
        series_year=2010,
        season=1,
        extra_type="other",
    )


def test_tv_show_folder_at_root_is_never_an_extras_folder() -> None:
    path = f"{TV}/Other/Season 1/Other S01E01.mkv"
    assert identify(path, LibraryKind.TV, TV) == Identification(
        path, "episode", series="Other", season=1, episode=1
    )


TRACK_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "Artist/Album (2001)/01 - Title.flac",
        {"artist": "Artist", "album": "Album", "year": 2001, "track": 1, "title": "Title"},
    ),
    (
        "Artist/Album (2001)/Disc 2/03 - Title.flac",
        {
            "artist": "Artist",
            "album": "Album",
            "year": 2001,
            "disc": 2,
            "track": 3,
            "title": "Title",
        },
    ),
    (
        "Artist/Album (2001)/CD2/03 Title.mp3",
        {
            "artist": "Artist",
            "album": "Album",
            "year": 2001,
            "disc": 2,
            "track": 3,
            "title": "Title",
        },
    ),
    (
        "Artist/Album/1-01 Title.flac",
        {"artist": "Artist", "album": "Album", "disc": 1, "track": 1, "title": "Title"},
    ),
    (
        "Artist/Album/2-11 - Title.flac",
        {"artist": "Artist", "album": "Album", "disc": 2, "track": 11, "title": "Title"},
    ),
    (
        "Artist/Album/101 - Title.flac",
        {"artist": "Artist", "album": "Album", "disc": 1, "track": 1, "title": "Title"},
    ),
    (
        "Artist/Album/01. Artist - Title.mp3",
        {"artist": "Artist", "album": "Album", "track": 1, "title": "Title"},
    ),
    ("Artist/Album/7.ogg", {"artist": "Artist", "album": "Album", "track": 7}),
    ("Artist/Album/Untitled.opus", {"artist": "Artist", "album": "Album", "title": "Untitled"}),
    (
        "Artist - Album/01 Title.m4a",
        {"artist": "Artist", "album": "Album", "track": 1, "title": "Title"},
    ),
    (
        "Taylor Swift/1989 (2014)/01 Welcome to New York.mp3",
        {
            "artist": "Taylor Swift",
            "album": "1989",
            "year": 2014,
            "track": 1,
            "title": "Welcome to New York",
        },
    ),
    (
        "Artist/2003 - Album/04 - Song.wav",
        {"artist": "Artist", "album": "Album", "year": 2003, "track": 4, "title": "Song"},
    ),
    (
        "Artist/Album (1999) [FLAC 24bit]/02 - Song.flac",
        {"artist": "Artist", "album": "Album", "year": 1999, "track": 2, "title": "Song"},
    ),
    (
        "Björk/Homogenic [Deluxe]/01 - Hunter.dsf",
        {"artist": "Björk", "album": "Homogenic [Deluxe]", "track": 1, "title": "Hunter"},
    ),
    (
        "Artist/Album/Artist - Album - 05 - Song.mp3",
        {"artist": "Artist", "album": "Album", "track": 5, "title": "Song"},
    ),
]


@pytest.mark.parametrize(("relative", "expected"), TRACK_CASES)
def test_track_names(relative: str, expected: dict[str, Any]) -> None:
    path = f"{MUSIC}/{relative}"
    assert identify(path, LibraryKind.MUSIC, MUSIC) == Identification(path, "track", **expected)


def test_disc_folder_wins_over_the_file_name() -> None:
    path = f"{MUSIC}/Artist/Album/Disc 3/1-04 Song.flac"
    assert identify(path, LibraryKind.MUSIC, MUSIC) == Identification(
        path, "track", artist="Artist", album="Album", disc=3, track=4, title="Song"
    )


SIDECAR_CASES: list[tuple[str, Sidecar | None]] = [
    ("poster.jpg", Sidecar("image", image_type="poster")),
    ("folder.jpg", Sidecar("image", image_type="poster")),
    ("cover.png", Sidecar("image", image_type="poster")),
    ("default.jpg", Sidecar("image", image_type="poster")),
    ("movie.jpg", Sidecar("image", image_type="poster")),
    ("show.jpg", Sidecar("image", image_type="poster")),
    ("fanart.jpg", Sidecar("image", image_type="backdrop")),
    ("backdrop.webp", Sidecar("image", image_type="backdrop")),
    ("background.jpg", Sidecar("image", image_type="backdrop")),
    ("art.jpg", Sidecar("image", image_type="backdrop")),
    ("fanart1.jpg", Sidecar("image", image_type="backdrop")),
    ("backdrop2.jpg", Sidecar("image", image_type="backdrop")),
    ("thumb.jpg", Sidecar("image", image_type="thumb")),
    ("landscape.jpg", Sidecar("image", image_type="thumb")),
    ("banner.jpg", Sidecar("image", image_type="banner")),
    ("logo.png", Sidecar("image", image_type="logo")),
    ("clearlogo.png", Sidecar("image", image_type="logo")),
    ("clearart.png", Sidecar("image", image_type="clearart")),
    ("disc.png", Sidecar("image", image_type="disc")),
    ("discart.png", Sidecar("image", image_type="disc")),
    (
        "The Matrix (1999)-poster.jpg",
        Sidecar("image", image_type="poster", base="The Matrix (1999)"),
    ),
    ("Show S01E02-thumb.jpg", Sidecar("image", image_type="thumb", base="Show S01E02")),
    ("Show S01E02.jpg", Sidecar("image", base="Show S01E02")),
    ("season01-poster.jpg", Sidecar("image", image_type="poster", season=1)),
    ("season02-fanart.jpg", Sidecar("image", image_type="backdrop", season=2)),
    ("season-specials-poster.jpg", Sidecar("image", image_type="poster", season=0)),
    ("season-all-poster.jpg", None),
    ("movie.nfo", Sidecar("nfo", nfo_type="movie")),
    ("tvshow.nfo", Sidecar("nfo", nfo_type="tvshow")),
    ("season.nfo", Sidecar("nfo", nfo_type="season")),
    ("album.nfo", Sidecar("nfo", nfo_type="album")),
    ("artist.nfo", Sidecar("nfo", nfo_type="artist")),
    ("Movie (2010).nfo", Sidecar("nfo", base="Movie (2010)", nfo_type="item")),
    ("Movie.srt", Sidecar("subtitle", base="Movie")),
    ("Movie.en.forced.srt", Sidecar("subtitle", base="Movie", language="eng", forced=True)),
    ("Movie.eng.sdh.srt", Sidecar("subtitle", base="Movie", language="eng", sdh=True)),
    ("Movie.default.en.srt", Sidecar("subtitle", base="Movie", language="eng", default=True)),
    ("Movie.en.hi.ass", Sidecar("subtitle", base="Movie", language="eng", sdh=True)),
    ("Movie.hi.srt", Sidecar("subtitle", base="Movie", language="hin")),
    ("Movie.cc.vtt", Sidecar("subtitle", base="Movie", sdh=True)),
    ("Movie.fre.ssa", Sidecar("subtitle", base="Movie", language="fre")),
    ("Movie.deu.sup", Sidecar("subtitle", base="Movie", language="ger")),
    ("Movie.pt-BR.srt", Sidecar("subtitle", base="Movie", language="por")),
    ("The.Matrix.1999.English.srt", Sidecar("subtitle", base="The.Matrix.1999", language="eng")),
    ("Movie (2010).idx", Sidecar("subtitle", base="Movie (2010)")),
    ("Movie (2010).sub", Sidecar("subtitle", base="Movie (2010)")),
    ("Movie.mkv", None),
    ("notes.txt", None),
    (".srt", None),
]


@pytest.mark.parametrize(("filename", "expected"), SIDECAR_CASES)
def test_sidecars(filename: str, expected: Sidecar | None) -> None:
    assert classify_sidecar(filename) == expected


def test_sidecar_ignores_folders_in_the_name() -> None:
    assert classify_sidecar("/lib/movies/Movie (2010)/poster.jpg") == Sidecar(
        "image", image_type="poster"
    )


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("a/b.MKV", "video"),
        ("b.m2ts", "video"),
        ("b.3gp", "video"),
        ("b.iso", None),
        ("b.FLAC", "audio"),
        ("b.dsf", "audio"),
        ("b.jpeg", "image"),
        ("b.nfo", "nfo"),
        ("b.vtt", "subtitle"),
        ("b.txt", None),
        ("mkv", None),
        (".mkv", None),
    ],
)
def test_file_category(path: str, category: str | None) -> None:
    assert file_category(path) == category


def test_is_video_and_is_audio() -> None:
    assert (is_video("x.webm"), is_video("x.mp3"), is_audio("x.opus"), is_audio("x.mkv")) == (
        True,
        False,
        True,
        False,
    )


def test_is_sample_only_for_video() -> None:
    assert (is_sample("sample/x.mkv"), is_sample("sample/x.flac"), is_sample("a-sample.mp4")) == (
        True,
        False,
        True,
    )


def test_to_json_has_every_key() -> None:
    identification = identify(f"{TV}/Daily [tvdbid-7]/Daily 2024-03-15.mkv", LibraryKind.TV, TV)
    assert json.loads(identification.to_json()) == {
        "path": f"{TV}/Daily [tvdbid-7]/Daily 2024-03-15.mkv",
        "kind": "episode",
        "title": None,
        "year": None,
        "series": "Daily",
        "series_year": None,
        "season": None,
        "episode": None,
        "episode_end": None,
        "date": "2024-03-15",
        "part": None,
        "version": None,
        "extra_type": None,
        "ignored": False,
        "reason": None,
        "provider_ids": {"tvdb": "7"},
        "artist": None,
        "album": None,
        "track": None,
        "disc": None,
    }


def test_to_json_round_trips_undecodable_names() -> None:
    path = f"{MOVIES}/caf\udce9 (2001).mkv"
    assert json.loads(identify(path, LibraryKind.MOVIES, MOVIES).to_json())["title"] == "caf\udce9"


@pytest.mark.parametrize(
    "name",
    [
        "\udcff\udcfe.mkv",
        "S\udce9E\udce9.mkv",
        "\u202eevil\u202c (2000).mkv",
        "e\u0301\u0301\u0301.mkv",
        "🎬🎬🎬.mp4",
        "((((.mkv",
        "[[[[.mkv",
        " - .mkv",
        "-.mkv",
        "S01E.mkv",
        "9" * 300 + ".mkv",
    ],
)
def test_odd_names_never_crash(name: str) -> None:
    for kind in LibraryKind:
        result = identify(f"/lib/x/{name}", kind, "/lib")
        assert result.path == f"/lib/x/{name}"
        json.loads(result.to_json())
