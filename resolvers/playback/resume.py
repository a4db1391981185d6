"""The resume rules: where a reported position leaves an item (pure, no I/O).

Below 5 % watched the position is not worth resuming (stored as 0); past 90 %, or within the final
five minutes, the item counts as played and starts over next time. The three thresholds are
settings (``playback.min_resume_percent``, ``played_percent``, ``played_remaining_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings

__all__ = ["MAX_POSITION_MS", "ResumeRules", "ResumeState", "resume_state"]

# No real file lasts a week; a larger position is a client bug, not a place to resume.
MAX_POSITION_MS = 7 * 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class ResumeRules:
    min_resume_fraction: float = 0.05
    played_fraction: float = 0.90
    played_remaining_ms: int = 5 * 60 * 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> ResumeRules:
        return cls(
            min_resume_fraction=settings.playback_min_resume_percent / 100,
            played_fraction=settings.playback_played_percent / 100,
            played_remaining_ms=settings.playback_played_remaining_seconds * 1000,
        )


@dataclass(frozen=True, slots=True)
class ResumeState:
    position_ms: int  # what to store as the resume position (0: not resumable)
    is_played: bool  # the position crossed the played threshold


def resume_state(
    position_ms: int, duration_ms: int | None, rules: ResumeRules = ResumeRules()
) -> ResumeState:
    """Where ``position_ms`` leaves an item of ``duration_ms`` (None: unknown, always resumable)."""
    if duration_ms is None or duration_ms <= 0:
        return ResumeState(position_ms=position_ms, is_played=False)
    remaining = duration_ms - position_ms
    if position_ms >= duration_ms * rules.played_fraction or remaining <= rules.played_remaining_ms:
        return ResumeState(position_ms=0, is_played=True)
    if position_ms < duration_ms * rules.min_resume_fraction:
        return ResumeState(position_ms=0, is_played=False)
    return ResumeState(position_ms=position_ms, is_played=False)
