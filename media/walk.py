"""Walking library roots: every file the scanner cares about, nothing that could hang or escape.

Synchronous on purpose: the scanner runs it in a thread. Names are handled as bytes so that files
whose names are not valid UTF-8 survive the round trip (``raw_path`` is what is on disk, ``path`` is
its ``os.fsdecode`` with surrogate escapes). Order is depth-first, entries sorted by their raw
name, so two scans of an unchanged tree yield the same sequence.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from media.naming import file_category, is_sample

__all__ = ["WalkEntry", "WalkProblem", "check_root", "walk_library"]

# Compared case-insensitively; dot-prefixed names are skipped anyway (.Trashes, .AppleDouble).
SKIPPED_FOLDERS = frozenset(
    {
        b"@eadir",
        b".trashes",
        b"#recycle",
        b"$recycle.bin",
        b"lost+found",
        b".appledouble",
        b"system volume information",
    }
)
IGNORE_MARKER = b".ignore"


@dataclass(frozen=True, slots=True)
class WalkEntry:
    path: str  # os.fsdecode(raw_path); may contain surrogates for non-UTF-8 names
    raw_path: bytes  # the exact bytes on disk
    size: int
    mtime_ns: int
    category: str  # "video" | "audio" | "image" | "nfo" | "subtitle"


@dataclass(frozen=True, slots=True)
class WalkProblem:
    path: str
    reason: str  # "symlink loop", "link outside library roots", "permission denied", ...


def check_root(path: str) -> str | None:
    """None when ``path`` can be walked; otherwise a one-line reason for the operator."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except PermissionError:
        return "not readable"
    except OSError as error:
        return _reason(error)
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return "not readable"
    try:
        with os.scandir(path):
            pass
    except OSError as error:
        return "not readable" if isinstance(error, PermissionError) else _reason(error)
    return None


def walk_library(roots: Sequence[str]) -> Iterator[WalkEntry | WalkProblem]:
    """Yield media, artwork, NFO and subtitle files under ``roots``, and problems met on the way.

    Symbolic links are followed only when their target resolves inside one of the roots; a link
    back into a folder already being walked is reported once as a ``symlink loop``. Problems are
    yielded, never raised.
    """
    real_roots = [os.path.realpath(os.fsencode(root)) for root in roots]
    visited: set[tuple[int, int]] = set()
    for root in roots:
        reason = check_root(root)
        if reason is not None:
            yield WalkProblem(root, reason)
            continue
        raw_root = os.fsencode(root)
        info = os.stat(raw_root)
        key = (info.st_dev, info.st_ino)
        if key in visited:
            continue  # the same folder given twice, or nested inside an earlier root
        yield from _walk_tree(raw_root, key, real_roots, visited)


def _walk_tree(
    top: bytes,
    top_key: tuple[int, int],
    real_roots: list[bytes],
    visited: set[tuple[int, int]],
) -> Iterator[WalkEntry | WalkProblem]:
    visited.add(top_key)
    ancestors: list[tuple[int, int]] = []
    # One iterator over sorted entries per open folder; ``ancestors`` holds their (dev, ino).
    stack: list[Iterator[os.DirEntry[bytes]]] = []
    opened = _open_folder(top)
    if isinstance(opened, WalkProblem):
        yield opened
        return
    if opened is None:
        return
    ancestors.append(top_key)
    stack.append(iter(opened))
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            ancestors.pop()
            continue
        name = entry.name
        if name.startswith(b".") or name.lower() in SKIPPED_FOLDERS:
            continue
        try:
            is_link = entry.is_symlink()
            if is_link:
                yield from _walk_link(entry, real_roots, visited, ancestors, stack)
                continue
            if entry.is_dir(follow_symlinks=False):
                child = entry.stat(follow_symlinks=False)
                child_key = (child.st_dev, child.st_ino)
                if child_key in visited:
                    continue  # a bind mount or hard-linked folder seen elsewhere
                visited.add(child_key)
                opened = _open_folder(entry.path)
                if isinstance(opened, WalkProblem):
                    yield opened
                elif opened is not None:
                    ancestors.append(child_key)
                    stack.append(iter(opened))
                continue
            found = _file_entry(entry.path, entry.stat(follow_symlinks=False))
        except OSError as error:
            yield WalkProblem(os.fsdecode(entry.path), _reason(error))
            continue
        if found is not None:
            yield found


def _walk_link(
    entry: os.DirEntry[bytes],
    real_roots: list[bytes],
    visited: set[tuple[int, int]],
    ancestors: list[tuple[int, int]],
    stack: list[Iterator[os.DirEntry[bytes]]],
) -> Iterator[WalkEntry | WalkProblem]:
    """Follow one symbolic link if it stays inside the roots; push a linked folder on ``stack``."""
    path = os.fsdecode(entry.path)
    try:
        target_info = os.stat(entry.path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            yield WalkProblem(path, "symlink loop")
        elif error.errno == errno.ENOENT:
            yield WalkProblem(path, "broken link")
        else:
            yield WalkProblem(path, _reason(error))
        return
    target = os.path.realpath(entry.path)
    if not any(
        target == root or target.startswith(root.rstrip(b"/") + b"/") for root in real_roots
    ):
        yield WalkProblem(path, "link outside library roots")
        return
    if stat.S_ISDIR(target_info.st_mode):
        key = (target_info.st_dev, target_info.st_ino)
        if key in ancestors:
            yield WalkProblem(path, "symlink loop")
            return
        if key in visited:
            return  # already walked through its real path or another link
        visited.add(key)
        opened = _open_folder(entry.path)
        if isinstance(opened, WalkProblem):
            yield opened
        elif opened is not None:
            ancestors.append(key)
            stack.append(iter(opened))
        return
    found = _file_entry(entry.path, target_info)
    if found is not None:
        yield found


def _open_folder(path: bytes) -> list[os.DirEntry[bytes]] | WalkProblem | None:
    """Sorted entries; None when the folder holds ``.ignore``; a problem when unreadable."""
    try:
        with os.scandir(path) as iterator:
            entries = list(iterator)
    except OSError as error:
        return WalkProblem(os.fsdecode(path), _reason(error))
    if any(entry.name == IGNORE_MARKER for entry in entries):
        return None
    entries.sort(key=lambda entry: entry.name)
    return entries


def _file_entry(raw_path: bytes, info: os.stat_result) -> WalkEntry | None:
    if not stat.S_ISREG(info.st_mode):
        return None
    path = os.fsdecode(raw_path)
    category = file_category(path)
    if category is None or (category == "video" and is_sample(path)):
        return None
    return WalkEntry(path, raw_path, info.st_size, info.st_mtime_ns, category)


def _reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(error, FileNotFoundError):
        return "vanished during the walk"
    return (error.strerror or type(error).__name__).lower()
