"""Everything the scanner learns from one media file, computed in a worker process.

One call per file does the probe, the fingerprint and (for audio) the tags, so a file is
opened in one place, off the event loop, under the probe pool's timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.fingerprint import oshash
from media.naming import is_audio
from media.probe import ProbeError, ProbeResult, probe_file
from media.tags import TrackTags, read_tags

__all__ = ["Analysis", "analyze_file"]


@dataclass(frozen=True, slots=True)
class Analysis:
    probe: ProbeResult | None
    error: str | None
    oshash: str | None
    tags: TrackTags | None


def analyze_file(path: str) -> Analysis:
    probe: ProbeResult | None = None
    error: str | None = None
    try:
        probe = probe_file(path)
    except ProbeError as problem:
        error = str(problem)
    try:
        fingerprint: str | None = oshash(path)
    except (OSError, ValueError):
        fingerprint = None
    tags = read_tags(path) if is_audio(path) and probe is not None else None
    return Analysis(probe=probe, error=error, oshash=fingerprint, tags=tags)
