import shutil

import pytest

from media.fingerprint import oshash
from tests.support.media_files import make_video


def test_oshash_of_zeros_is_the_size(tmp_path):
    path = tmp_path / "zeros.bin"
    path.write_bytes(bytes(256 * 1024))

    assert oshash(str(path)) == "0000000000040000"


def test_oshash_sums_words_modulo_two_to_the_64(tmp_path):
    # Every word is 2**64 - 1, i.e. -1: 8192 words in each 64 KiB window.
    path = tmp_path / "ones.bin"
    path.write_bytes(b"\xff" * (128 * 1024))

    assert oshash(str(path)) == f"{(128 * 1024 - 2 * 8192):016x}"


def test_oshash_reads_words_little_endian(tmp_path):
    path = tmp_path / "words.bin"
    path.write_bytes((1).to_bytes(8, "little") + bytes(200 * 1024 - 16) + (2).to_bytes(8, "little"))

    assert oshash(str(path)) == f"{200 * 1024 + 1 + 2:016x}"


def test_oshash_small_file_hashes_what_it_has(tmp_path):
    # 10 bytes: words 1 and 2 (zero-padded), counted in both overlapping windows.
    path = tmp_path / "tiny.bin"
    path.write_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00")

    assert oshash(str(path)) == f"{10 + 2 * (1 + 2):016x}"


def test_oshash_zero_byte_file_raises(tmp_path):
    path = tmp_path / "empty.mkv"
    path.write_bytes(b"")

    with pytest.raises(ValueError, match="empty file"):
        oshash(str(path))


def test_oshash_survives_a_rename(tmp_path):
    original = make_video(tmp_path / "Movie.2001.mkv", seconds=2.0)
    before = oshash(str(original))
    moved = tmp_path / "elsewhere" / "renamed.mkv"
    moved.parent.mkdir()
    shutil.move(original, moved)

    assert oshash(str(moved)) == before
    assert len(before) == 16


def test_oshash_changes_with_the_last_bytes(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(300 * 1024))
    before = oshash(str(path))
    with open(path, "r+b") as handle:
        handle.seek(-1, 2)
        handle.write(b"\x01")

    assert oshash(str(path)) != before
