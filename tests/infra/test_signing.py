"""Image URL signatures: bound to the image, the user, the profile and the expiry; one expiry
for a whole hour of signing."""

from __future__ import annotations

import uuid

import pytest

from infra.errors import Forbidden
from infra.signing import StreamSigner, image_expiry

IMAGE = uuid.UUID("0190a7c2-0000-7000-8000-0000000000aa")
USER = "0190a7c2-0000-7000-8000-00000000000a"
PROFILE = "0190a7c2-0000-7000-8000-00000000000b"
SIGNER = StreamSigner(b"k" * 32)


def _params(query: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in query.split("&"))


def test_one_expiry_per_hour_of_signing() -> None:
    hour = 1_800_000_000 // 3600 * 3600
    assert image_expiry(hour) == hour + 6 * 3600
    assert image_expiry(hour + 3599.9) == hour + 6 * 3600
    assert image_expiry(hour + 3600) == hour + 7 * 3600


def test_an_image_signature_names_its_user_and_profile() -> None:
    with_profile = _params(SIGNER.sign_image(IMAGE, USER, PROFILE, 2_000_000_000))
    without = _params(SIGNER.sign_image(IMAGE, USER, None, 2_000_000_000))

    assert SIGNER.verify_image(IMAGE, with_profile, 1_999_999_999) == (USER, PROFILE)
    assert SIGNER.verify_image(IMAGE, without, 1_999_999_999) == (USER, None)
    assert sorted(without) == ["exp", "sig", "uid"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"pid": USER}, "bad signature"),
        ({"uid": PROFILE}, "bad signature"),
        ({"exp": "2000000001"}, "bad signature"),
        ({"pid": PROFILE.upper()}, "malformed profile"),
        ({"uid": "me"}, "malformed user"),
        ({"exp": "-1"}, "malformed expiry"),
        ({"sig": "short"}, "malformed signature"),
    ],
)
def test_a_changed_image_url_is_refused(change: dict[str, str], reason: str) -> None:
    params = {**_params(SIGNER.sign_image(IMAGE, USER, PROFILE, 2_000_000_000)), **change}
    with pytest.raises(Forbidden) as refused:
        SIGNER.verify_image(IMAGE, params, 1_999_999_999)
    assert refused.value.reason == reason


def test_an_image_url_is_for_one_image_until_its_expiry() -> None:
    params = _params(SIGNER.sign_image(IMAGE, USER, PROFILE, 2_000_000_000))
    with pytest.raises(Forbidden) as other_image:
        SIGNER.verify_image(uuid.uuid4(), params, 1_999_999_999)
    with pytest.raises(Forbidden) as expired:
        SIGNER.verify_image(IMAGE, params, 2_000_000_000)
    with pytest.raises(Forbidden) as as_stream:  # another domain: no stream opens with it
        SIGNER.verify_stream(IMAGE, params, 1_999_999_999)
    assert other_image.value.reason == "bad signature"
    assert expired.value.reason == "expired"
    assert as_stream.value.reason == "bad signature"
