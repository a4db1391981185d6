"""Catalog images for the REST image route: their signed URLs, and their files on disk for a
principal who may see their item."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from infra.authz.principal import Principal
from infra.authz.service import VisibilityFilter
from infra.signing import StreamSigner, image_expiry
from loaders.visibility import visibility_conditions

__all__ = ["image_file_path", "image_url"]


def image_url(
    image_id: uuid.UUID | str,
    principal: Principal,
    signer: StreamSigner | None,
    *,
    now: float | None = None,
) -> str:
    """``/images/{id}?exp&uid[&pid]&sig`` for the principal's profile, so an ``<img>`` tag can
    fetch it; the same URL for a whole expiry bucket (the browser caches it). Without a signer
    or a user, the bare path: the route then wants credentials."""
    path = f"/images/{image_id}"
    if signer is None or principal.user_id is None:
        return path
    expires_at = image_expiry(time.time() if now is None else now)
    sign = _image_signer(signer, principal.user_id, principal.profile_id, expires_at)
    return f"{path}?{sign(str(image_id))}"


@functools.lru_cache(maxsize=512)
def _image_signer(
    signer: StreamSigner, user_id: str, profile_id: str | None, expires_at: int
) -> Callable[[str], str]:
    """One per principal and hour: a page of posters hashes its shared part once."""
    return signer.image_signer(user_id, profile_id, expires_at)


async def image_file_path(
    pool: asyncpg.Pool, image_id: uuid.UUID, visibility: VisibilityFilter
) -> str | None:
    """The file of a catalog image whose item ``visibility`` shows, or None (unknown and hidden
    answer alike); a path from a client never reaches the disk."""
    if visibility.nothing_visible:
        return None
    params: list[Any] = [image_id]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    conditions = ["m.id = $1", *visibility_conditions(visibility, add)]
    raw = await pool.fetchval(
        "SELECT m.raw_path FROM media_images m JOIN media_items i ON i.id = m.item_id WHERE "
        + " AND ".join(conditions),
        *params,
    )
    return None if raw is None else os.fsdecode(bytes(raw))
