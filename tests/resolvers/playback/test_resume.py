"""The resume rules at their thresholds."""

from __future__ import annotations

from pathlib import Path

from infra.settings import load_settings
from resolvers.playback.resume import ResumeRules, ResumeState, resume_state

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


def test_rules_come_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "REVENGE_DATA_DIR": str(tmp_path),
            "REVENGE_PLAYBACK_MIN_RESUME_PERCENT": "10",
            "REVENGE_PLAYBACK_PLAYED_PERCENT": "80",
            "REVENGE_PLAYBACK_PLAYED_REMAINING_SECONDS": "60",
        }
    )
    rules = ResumeRules.from_settings(settings)
    hour = 3_600_000

    assert rules == ResumeRules(0.10, 0.80, 60_000)
    assert resume_state(hour // 20, hour, rules) == ResumeState(0, False)  # 5 % < 10 %
    assert resume_state(hour * 81 // 100, hour, rules) == ResumeState(0, True)
    assert resume_state(hour // 2, hour, rules) == ResumeState(hour // 2, False)
