"""Image URLs: one URL per image and profile for an hour, so the browser's cache answers a page
shown again; another profile or hour, another URL."""

from __future__ import annotations

import uuid

from infra.authz.principal import ANONYMOUS, Principal
from infra.signing import StreamSigner
from resolvers.catalog.image_files import image_url

SIGNER = StreamSigner(b"i" * 32)
IMAGE = uuid.UUID("0190a7c2-0000-7000-8000-0000000000aa")
PARENT = Principal(
    user_id="0190a7c2-0000-7000-8000-00000000000a",
    profile_id="0190a7c2-0000-7000-8000-00000000000b",
)
KID = Principal(user_id=PARENT.user_id, profile_id="0190a7c2-0000-7000-8000-00000000000c")
HOUR = 1_800_000_000 // 3600 * 3600


def test_one_url_per_image_and_profile_for_an_hour() -> None:
    first = image_url(IMAGE, PARENT, SIGNER, now=HOUR + 1)
    assert first == image_url(str(IMAGE), PARENT, SIGNER, now=HOUR + 3599)
    assert first != image_url(IMAGE, PARENT, SIGNER, now=HOUR + 3600)
    assert first != image_url(IMAGE, KID, SIGNER, now=HOUR + 1)
    query = SIGNER.sign_image(IMAGE, PARENT.user_id or "", PARENT.profile_id, HOUR + 6 * 3600)
    assert first == f"/images/{IMAGE}?{query}"
    assert query.startswith(
        f"exp={HOUR + 6 * 3600}&uid={PARENT.user_id}&pid={PARENT.profile_id}&sig="
    )


def test_without_a_user_or_a_signer_the_bare_path() -> None:
    assert image_url(IMAGE, ANONYMOUS, SIGNER) == f"/images/{IMAGE}"
    assert image_url(IMAGE, PARENT, None) == f"/images/{IMAGE}"
