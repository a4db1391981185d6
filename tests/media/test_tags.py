import pytest

from media.tags import TrackTags, read_tags
from tests.support.media_files import make_audio, make_text, make_zero_byte, write_tags

TAGS = {
    "title": "Song",
    "artist": "Artist",
    "albumartist": "Various Artists",
    "album": "Album",
    "tracknumber": "3/12",
    "discnumber": "1/2",
    "date": "2001-05-06",
    "genre": ["Rock", "Pop"],
    "musicbrainz_trackid": "11111111-1111-1111-1111-111111111111",
    "musicbrainz_albumid": "22222222-2222-2222-2222-222222222222",
    "musicbrainz_artistid": "33333333-3333-3333-3333-333333333333",
    "musicbrainz_albumartistid": "44444444-4444-4444-4444-444444444444",
}


@pytest.mark.parametrize("extension", ["mp3", "flac", "m4a", "ogg", "opus"])
def test_read_tags_per_format(tmp_path, extension):
    path = make_audio(tmp_path / f"song.{extension}", tags=TAGS)

    tags = read_tags(str(path))

    assert tags.duration_ms is not None and abs(tags.duration_ms - 1000) <= 50
    assert tags == TrackTags(
        title="Song",
        artist="Artist",
        album_artist="Various Artists",
        album="Album",
        track=3,
        track_total=12,
        disc=1,
        disc_total=2,
        year=2001,
        genres=("Rock", "Pop"),
        duration_ms=tags.duration_ms,
        musicbrainz_ids={
            "recording": "11111111-1111-1111-1111-111111111111",
            "release": "22222222-2222-2222-2222-222222222222",
            "artist": "33333333-3333-3333-3333-333333333333",
            "album_artist": "44444444-4444-4444-4444-444444444444",
        },
    )


def test_vorbis_separate_totals_and_joined_genres(tmp_path):
    path = make_audio(
        tmp_path / "song.flac",
        tags={
            "tracknumber": "7",
            "tracktotal": "9",
            "discnumber": "2",
            "totaldiscs": "3",
            "genre": "Jazz; Blues",
            "date": "1959",
        },
    )

    tags = read_tags(str(path))

    assert (tags.track, tags.track_total, tags.disc, tags.disc_total) == (7, 9, 2, 3)
    assert tags.genres == ("Jazz", "Blues")
    assert tags.year == 1959


def test_junk_numbers_become_none(tmp_path):
    path = make_audio(tmp_path / "song.mp3", tags={"tracknumber": "A1", "date": "unknown"})

    tags = read_tags(str(path))

    assert (tags.track, tags.track_total, tags.year) == (None, None, None)


def test_untagged_file_has_duration_only(tmp_path):
    path = make_audio(tmp_path / "plain.flac", seconds=2.0)

    tags = read_tags(str(path))

    assert tags == TrackTags(duration_ms=2000)


def test_tags_added_later(tmp_path):
    path = make_audio(tmp_path / "song.m4a")
    write_tags(path, {"title": "Later", "tracknumber": "5"})

    tags = read_tags(str(path))

    assert (tags.title, tags.track, tags.track_total) == ("Later", 5, None)


@pytest.mark.parametrize("name", ["notes.mp3", "notes.flac", "empty.m4a"])
def test_unreadable_files_give_empty_tags(tmp_path, name):
    path = (
        make_zero_byte(tmp_path / name) if name.startswith("empty") else make_text(tmp_path / name)
    )

    assert read_tags(str(path)) == TrackTags()


def test_missing_file_gives_empty_tags(tmp_path):
    assert read_tags(str(tmp_path / "missing.mp3")) == TrackTags()
