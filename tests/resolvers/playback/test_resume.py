"""The resume rules at their thresholds."""

from __future__ import annotations

from resolvers.playback.resume import ResumeState, resume_state

HOUR = 60 * 60 * 1000


def test_below_five_percent_is_not_resumable() -> None:
    assert resume_state(int(HOUR * 0.049), HOUR) == ResumeState(position_ms=0, is_played=False)


def test_between_the_thresholds_resumes_where_it_stopped() -> None:
    assert resume_state(HOUR // 20, HOUR) == ResumeState(position_ms=HOUR // 20, is_played=False)
    assert resume_state(HOUR // 2, HOUR) == ResumeState(position_ms=HOUR // 2, is_played=False)


def test_ninety_percent_counts_as_played() -> None:
    assert resume_state(9 * HOUR - 1, 10 * HOUR) == ResumeState(9 * HOUR - 1, is_played=False)
    assert resume_state(9 * HOUR, 10 * HOUR) == ResumeState(position_ms=0, is_played=True)


def test_the_final_five_minutes_count_as_played() -> None:
    duration = HOUR // 2  # five minutes before the end is at 83 %
    assert resume_state(duration - 5 * 60_000, duration).is_played is True
    assert resume_state(duration - 5 * 60_000 - 1, duration).is_played is False


def test_an_unknown_duration_always_resumes() -> None:
    assert resume_state(1234, None) == ResumeState(position_ms=1234, is_played=False)
