"""TOTP: the ±1 step window, refusing reuse; recovery codes: one-time, forgiving input."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pyotp

from infra.totp import (
    match_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = 1_700_000_010.0  # inside step 56_666_667
STEP = 56_666_667


def clock_at(now: float) -> Callable[[], float]:
    return lambda: now


def code_for(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_a_new_secret_is_base32_of_160_bits() -> None:
    secret = new_totp_secret()

    assert len(secret) == 32
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert secret != new_totp_secret()


def test_the_provisioning_uri_names_revenge_as_issuer() -> None:
    uri = urlparse(provisioning_uri(SECRET, "alice@example.org"))

    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert uri.path == "/Revenge:alice%40example.org"
    assert parse_qs(uri.query) == {"secret": [SECRET], "issuer": ["Revenge"]}


def test_the_current_code_returns_the_current_step() -> None:
    assert STEP == int(T0) // 30
    assert verify_totp(SECRET, code_for(STEP), None, clock=clock_at(T0)) == STEP


def test_codes_one_step_either_side_are_accepted() -> None:
    assert verify_totp(SECRET, code_for(STEP - 1), None, clock=clock_at(T0)) == STEP - 1
    assert verify_totp(SECRET, code_for(STEP + 1), None, clock=clock_at(T0)) == STEP + 1


def test_codes_two_steps_away_are_refused() -> None:
    assert verify_totp(SECRET, code_for(STEP - 2), None, clock=clock_at(T0)) is None
    assert verify_totp(SECRET, code_for(STEP + 2), None, clock=clock_at(T0)) is None


def test_a_used_step_cannot_be_used_again() -> None:
    used = verify_totp(SECRET, code_for(STEP), None, clock=clock_at(T0))

    assert verify_totp(SECRET, code_for(STEP), used, clock=clock_at(T0)) is None
    assert verify_totp(SECRET, code_for(STEP), used, clock=clock_at(T0 + 30)) is None


def test_an_earlier_step_is_refused_after_a_later_one_was_used() -> None:
    assert verify_totp(SECRET, code_for(STEP - 1), STEP, clock=clock_at(T0)) is None
    assert verify_totp(SECRET, code_for(STEP + 1), STEP, clock=clock_at(T0)) == STEP + 1


def test_spaces_are_ignored_and_malformed_codes_refused() -> None:
    code = code_for(STEP)

    assert verify_totp(SECRET, f"{code[:3]} {code[3:]}", None, clock=clock_at(T0)) == STEP
    for bad in ["", "12345", "1234567", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16"]:
        assert verify_totp(SECRET, bad, None, clock=clock_at(T0)) is None


def test_recovery_codes_are_shown_in_groups_and_stored_hashed() -> None:
    codes, hashes = new_recovery_codes()

    assert len(codes) == 10
    assert len(hashes) == 10
    assert len(set(codes)) == 10
    for code, stored in zip(codes, hashes, strict=True):
        groups = code.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set(code.replace("-", "")) <= set("0123456789abcdefghjkmnpqrstvwxyz")
        assert len(stored) == 64
        assert code.replace("-", "") not in stored


def test_a_recovery_code_matches_its_own_index() -> None:
    codes, hashes = new_recovery_codes(4)

    assert [match_recovery_code(code, hashes) for code in codes] == [0, 1, 2, 3]


def test_a_recovery_code_forgives_case_dashes_spaces_and_lookalikes() -> None:
    codes, hashes = new_recovery_codes(3)
    code = codes[2]
    lookalike = code.replace("0", "o").replace("1", "l")

    assert match_recovery_code(code.upper(), hashes) == 2
    assert match_recovery_code(code.replace("-", ""), hashes) == 2
    assert match_recovery_code(" " + code.replace("-", " ") + " ", hashes) == 2
    assert match_recovery_code(lookalike.upper(), hashes) == 2


def test_an_unknown_or_consumed_recovery_code_matches_nothing() -> None:
    codes, hashes = new_recovery_codes(3)

    assert match_recovery_code("0000-0000-0000-0000", hashes) is None
    assert match_recovery_code("", hashes) is None
    assert match_recovery_code("not a code", hashes) is None
    assert match_recovery_code(codes[0], hashes[1:]) is None
    assert match_recovery_code(codes[0], []) is None
