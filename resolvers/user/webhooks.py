"""Webhook endpoints: what an administrator registers, and the checks on it.

The caller is already known to be an administrator (the subgraph checks). A secret is shown
once, when it is made (creation, rotation); reads never return it. A rotation keeps the old
secret signing beside the new one for an overlap window, so receivers can switch without
losing a delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from infra.errors import BadUserInput, NotFound
from infra.names import is_display_name
from infra.webhook_client import new_secret
from resolvers.user.audit import record_event

__all__ = [
    "EVENT_TYPES",
    "MAX_ROTATION_OVERLAP_SECONDS",
    "EndpointFields",
    "create_webhook",
    "delete_webhook",
    "list_webhooks",
    "rotate_webhook_secret",
    "update_webhook",
    "validate_url",
]

# What an endpoint may ask for: the server events the bus carries (``infra.server_events``).
EVENT_TYPES = (
    "playback.started",
    "playback.paused",
    "playback.resumed",
    "playback.stopped",
    "playback.scrobble",
    "library.new_item",
    "transcode.complete",
    "transcode.failed",
    "user.created",
    "auth.signin_failed",
    "webhook.disabled",
)
MAX_ROTATION_OVERLAP_SECONDS = 7 * 24 * 3600
MAX_ENDPOINTS = 100
_COLUMNS = (
    "id, name, url, event_types, user_ids, library_ids, is_enabled, disabled_reason, "
    "consecutive_failures, previous_secret_expires_at, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class EndpointFields:
    """An endpoint's settable fields; None on update: keep (filters: ``clear_*`` empties)."""

    name: str | None = None
    url: str | None = None
    event_types: Sequence[str] | None = None
    user_ids: Sequence[uuid.UUID] | None = None
    library_ids: Sequence[uuid.UUID] | None = None
    is_enabled: bool | None = None
    clear_user_ids: bool = False
    clear_library_ids: bool = False


def validate_url(url: str) -> str:
    clean = url.strip()
    parts = urlsplit(clean)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(clean) > 2000:
        raise BadUserInput("a webhook URL is an http:// or https:// URL", field="url")
    if parts.username or parts.password:
        raise BadUserInput("a webhook URL carries no credentials", field="url")
    return clean


def _validate_name(name: str) -> str:
    clean = name.strip()
    if not 1 <= len(clean) <= 100 or not is_display_name(clean):
        raise BadUserInput("a webhook name is 1 to 100 printable characters", field="name")
    return clean


def _validate_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        raise BadUserInput(
            f"event types are some of {', '.join(EVENT_TYPES)} (unknown: {', '.join(unknown)})"
            if unknown
            else "a webhook listens to at least one event type",
            field="eventTypes",
        )
    return [kind for kind in EVENT_TYPES if kind in types]


def _ids(values: Sequence[uuid.UUID] | None) -> list[uuid.UUID] | None:
    return None if values is None else sorted(set(values))


async def list_webhooks(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
    )
    return rows


async def create_webhook(
    pool: asyncpg.Pool,
    actor: uuid.UUID,
    fields: EndpointFields,
    *,
    client_address: str | None = None,
) -> tuple[asyncpg.Record, str]:
    """The new endpoint and its secret (shown this once)."""
    name = _validate_name(fields.name or "")
    url = validate_url(fields.url or "")
    types = _validate_types(fields.event_types or ())
    secret = new_secret()
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval("SELECT count(*) FROM webhook_endpoints")
        if count >= MAX_ENDPOINTS:
            raise BadUserInput(f"at most {MAX_ENDPOINTS} webhooks")
        row: asyncpg.Record = await conn.fetchrow(
            "INSERT INTO webhook_endpoints (name, url, secret, event_types, user_ids, "
            f"library_ids, is_enabled, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            f"RETURNING {_COLUMNS}",
            name, url, secret, types, _ids(fields.user_ids), _ids(fields.library_ids),
            True if fields.is_enabled is None else fields.is_enabled, actor,
        )  # fmt: skip
        await _audit(conn, "webhook.create", actor, row["id"], client_address, {"url": url})
    return row, secret


async def update_webhook(
    pool: asyncpg.Pool,
    actor: uuid.UUID,
    webhook_id: uuid.UUID,
    fields: EndpointFields,
    *,
    client_address: str | None = None,
) -> asyncpg.Record:
    """Changes what is given. Enabling an endpoint again starts its failure count afresh."""
    sets: list[str] = []
    params: list[Any] = [webhook_id]

    def add(column: str, value: Any) -> None:
        params.append(value)
        sets.append(f"{column} = ${len(params)}")

    if fields.name is not None:
        add("name", _validate_name(fields.name))
    if fields.url is not None:
        add("url", validate_url(fields.url))
    if fields.event_types is not None:
        add("event_types", _validate_types(fields.event_types))
    if fields.user_ids is not None or fields.clear_user_ids:
        add("user_ids", None if fields.clear_user_ids else _ids(fields.user_ids))
    if fields.library_ids is not None or fields.clear_library_ids:
        add("library_ids", None if fields.clear_library_ids else _ids(fields.library_ids))
    if fields.is_enabled is not None:
        add("is_enabled", fields.is_enabled)
        if fields.is_enabled:
            sets += ["disabled_reason = NULL", "consecutive_failures = 0"]
        else:
            sets.append("disabled_reason = 'disabled by an administrator'")
    async with pool.acquire() as conn, conn.transaction():
        if sets:
            row = await conn.fetchrow(
                f"UPDATE webhook_endpoints SET {', '.join(sets)} WHERE id = $1 "
                f"RETURNING {_COLUMNS}",
                *params,
            )
        else:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = $1", webhook_id
            )
        if row is None:
            raise NotFound("no webhook has this id", field="id")
        await _audit(conn, "webhook.update", actor, webhook_id, client_address, None)
    return row


async def delete_webhook(
    pool: asyncpg.Pool, actor: uuid.UUID, webhook_id: uuid.UUID, *, client_address: str | None
) -> None:
    """Its deliveries and their log go with it; jobs still queued find nothing and end."""
    async with pool.acquire() as conn, conn.transaction():
        deleted = await conn.fetchval(
            "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id", webhook_id
        )
        if deleted is None:
            raise NotFound("no webhook has this id", field="id")
        await _audit(conn, "webhook.delete", actor, webhook_id, client_address, None)


async def rotate_webhook_secret(
    pool: asyncpg.Pool,
    actor: uuid.UUID,
    webhook_id: uuid.UUID,
    overlap_seconds: int,
    *,
    client_address: str | None = None,
) -> tuple[asyncpg.Record, str]:
    """A new secret (returned, shown once); the current one keeps signing for the overlap."""
    if not 0 <= overlap_seconds <= MAX_ROTATION_OVERLAP_SECONDS:
        raise BadUserInput(
            f"overlapSeconds is 0 to {MAX_ROTATION_OVERLAP_SECONDS}", field="overlapSeconds"
        )
    secret = new_secret()
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE webhook_endpoints SET previous_secret = CASE WHEN $3 > 0 THEN secret END, "
            "previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + $4::interval END, "
            f"secret = $2 WHERE id = $1 RETURNING {_COLUMNS}",
            webhook_id, secret, overlap_seconds, timedelta(seconds=overlap_seconds),
        )  # fmt: skip
        if row is None:
            raise NotFound("no webhook has this id", field="id")
        await _audit(
            conn, "webhook.rotate_secret", actor, webhook_id, client_address,
            {"overlap_seconds": overlap_seconds},
        )  # fmt: skip
    return row, secret


async def _audit(
    conn: asyncpg.Connection,
    action: str,
    actor: uuid.UUID,
    webhook_id: uuid.UUID,
    client_address: str | None,
    details: dict[str, Any] | None,
) -> None:
    await record_event(
        conn, action=action, result="ok", actor_user_id=actor, target=f"webhook:{webhook_id}",
        client_address=client_address, details=details,
    )  # fmt: skip
