"""Scan planning: what changed between the files on disk and the files we know.

Pure functions over plain data, so the rules are testable without a database: the caller
loads what is stored, walks the roots, and asks which files are unchanged, changed, new or
gone, and which sidecar (image, NFO, subtitle) belongs to which media file or folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from media.naming import Sidecar, classify_sidecar
from media.walk import WalkEntry

__all__ = [
    "KnownFile",
    "ScanPlan",
    "SidecarAssignment",
    "is_under",
    "plan_scan",
    "plan_sidecars",
]


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A media file as stored: enough to decide whether it changed."""

    id: str
    item_id: str
    raw_path: bytes
    size: int
    mtime_ns: int
    oshash: str | None
    is_missing: bool


@dataclass(slots=True)
class ScanPlan:
    unchanged: list[KnownFile] = field(default_factory=list)
    reappeared: list[KnownFile] = field(default_factory=list)
    changed: list[tuple[KnownFile, WalkEntry]] = field(default_factory=list)
    new: list[WalkEntry] = field(default_factory=list)
    # Stored files not seen under a root that walked cleanly: moved (if a new file has the same
    # fingerprint) or missing. Files under an unavailable root are left alone.
    vanished: list[KnownFile] = field(default_factory=list)
    sidecars: list[WalkEntry] = field(default_factory=list)


def is_under(raw_path: bytes, roots: Iterable[bytes]) -> bool:
    for root in roots:
        prefix = root.rstrip(b"/") + b"/"
        if raw_path.startswith(prefix):
            return True
    return False


def plan_scan(
    known: Mapping[bytes, KnownFile],
    entries: Sequence[WalkEntry],
    walked_roots: Sequence[str],
    *,
    full: bool = False,
) -> ScanPlan:
    """Sort every walked entry and every stored file into exactly one bucket."""
    plan = ScanPlan()
    seen: set[bytes] = set()
    for entry in entries:
        if entry.category not in ("video", "audio"):
            plan.sidecars.append(entry)
            continue
        seen.add(entry.raw_path)
        stored = known.get(entry.raw_path)
        if stored is None:
            plan.new.append(entry)
        elif full or stored.size != entry.size or stored.mtime_ns != entry.mtime_ns:
            plan.changed.append((stored, entry))
        elif stored.is_missing:
            plan.reappeared.append(stored)
        else:
            plan.unchanged.append(stored)
    roots = [os.fsencode(r) for r in walked_roots]
    for raw_path, stored in known.items():
        if raw_path not in seen and not stored.is_missing and is_under(raw_path, roots):
            plan.vanished.append(stored)
    return plan


@dataclass(frozen=True, slots=True)
class SidecarAssignment:
    """A sidecar and what it belongs to: a media file (by stem) or a folder."""

    entry: WalkEntry
    sidecar: Sidecar
    media_path: bytes | None  # the media file it names, when it names one
    folder: bytes  # the folder it sits in


def plan_sidecars(
    sidecars: Sequence[WalkEntry], media_paths: Iterable[bytes]
) -> list[SidecarAssignment]:
    """Attach each sidecar to the media file whose stem it starts with, else to its folder."""
    stems: dict[tuple[bytes, str], bytes] = {}
    for raw in media_paths:
        folder, name = os.path.split(raw)
        stems[(folder, os.path.splitext(os.fsdecode(name))[0].casefold())] = raw
    assignments: list[SidecarAssignment] = []
    for entry in sidecars:
        folder, name = os.path.split(entry.raw_path)
        sidecar = classify_sidecar(os.fsdecode(name))
        if sidecar is None:
            continue
        media_path = None
        if sidecar.base is not None:
            media_path = stems.get((folder, sidecar.base.casefold()))
        assignments.append(SidecarAssignment(entry, sidecar, media_path, folder))
    return assignments
