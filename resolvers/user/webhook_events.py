"""What a webhook event says: a compact summary a receiver acts on without a second call.

A server event names things by id (``userId``, ``itemId``, ``sessionId`` …); the summary
replaces them with small objects — user (id, name), profile, device, item (title, kind, series,
season, episode, year, image URL) — read in one statement per kind for a whole batch of
events. Other fields (position, reason, failure code …) pass through as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["Summary", "summarize"]

_EXPANDED = ("userId", "profileId", "itemId", "libraryId", "deviceId", "webhookId")


@dataclass(frozen=True, slots=True)
class Summary:
    """An event's ``data`` for receivers, and what endpoint filters match on."""

    data: dict[str, Any]
    user_id: uuid.UUID | None
    library_id: uuid.UUID | None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _collect(events: Iterable[dict[str, Any]], key: str) -> list[uuid.UUID]:
    found = {_uuid(event.get(key)) for event in events}
    return [value for value in found if value is not None]


async def _by_id(conn: asyncpg.Connection, sql: str, ids: Sequence[uuid.UUID]) -> dict[Any, Any]:
    if not ids:
        return {}
    return {row["id"]: row for row in await conn.fetch(sql, list(ids))}


_SESSIONS = (
    "SELECT id, user_id, profile_id, item_id, device_id, device_profile_name, method "
    "FROM playback_sessions WHERE id = ANY($1::uuid[])"
)
_USERS = "SELECT id, name FROM users WHERE id = ANY($1::uuid[])"
_PROFILES = "SELECT id, name FROM profiles WHERE id = ANY($1::uuid[])"
_LIBRARIES = "SELECT id, name, kind FROM libraries WHERE id = ANY($1::uuid[])"
_WEBHOOKS = "SELECT id, name, url FROM webhook_endpoints WHERE id = ANY($1::uuid[])"
# The item's own poster first, then its season's, then its series'.
_ITEMS = """
SELECT i.id, i.kind, i.title, i.year, i.season_number, i.episode_number, i.library_id,
       series.title AS series_title,
       (SELECT image.id FROM media_images AS image
         WHERE image.item_id IN (i.id, i.parent_id, i.series_id)
         ORDER BY image.item_id = i.id DESC, image.item_id = i.parent_id DESC,
                  image.type = 'poster' DESC, image.created_at, image.id
         LIMIT 1) AS image_id
  FROM media_items AS i
  LEFT JOIN media_items AS series ON series.id = i.series_id
 WHERE i.id = ANY($1::uuid[])
"""


def _named(row: asyncpg.Record | None, fallback_id: uuid.UUID | None) -> dict[str, Any] | None:
    if row is None:
        return None if fallback_id is None else {"id": str(fallback_id), "name": None}
    return {"id": str(row["id"]), "name": row["name"]}


def _item(row: asyncpg.Record | None, fallback_id: uuid.UUID | None) -> dict[str, Any] | None:
    if row is None:
        return None if fallback_id is None else {"id": str(fallback_id)}
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "kind": row["kind"],
        "seriesTitle": row["series_title"],
        "seasonNumber": row["season_number"],
        "episodeNumber": row["episode_number"],
        "year": row["year"],
        "imageUrl": f"/images/{row['image_id']}" if row["image_id"] is not None else None,
        "libraryId": str(row["library_id"]),
    }


async def summarize(conn: asyncpg.Connection, events: Sequence[dict[str, Any]]) -> list[Summary]:
    """The summary of each event's ``data``, in order: at most six statements per batch."""
    datas = [dict(event.get("data") or {}) for event in events]
    sessions = await _by_id(conn, _SESSIONS, _collect(datas, "sessionId"))
    for data in datas:  # a transcode event knows its session only
        session = sessions.get(_uuid(data.get("sessionId")))
        if session is not None:
            data.setdefault("userId", str(session["user_id"]))
            data.setdefault("profileId", str(session["profile_id"]))
            data.setdefault("itemId", str(session["item_id"]))
    users = await _by_id(conn, _USERS, _collect(datas, "userId"))
    profiles = await _by_id(conn, _PROFILES, _collect(datas, "profileId"))
    items = await _by_id(conn, _ITEMS, _collect(datas, "itemId"))
    library_ids = {*_collect(datas, "libraryId"), *(row["library_id"] for row in items.values())}
    libraries = await _by_id(conn, _LIBRARIES, list(library_ids))
    webhooks = await _by_id(conn, _WEBHOOKS, _collect(datas, "webhookId"))
    summaries = []
    for data in datas:
        user_id, item_id = _uuid(data.get("userId")), _uuid(data.get("itemId"))
        profile_id, webhook_id = _uuid(data.get("profileId")), _uuid(data.get("webhookId"))
        item = items.get(item_id)
        library_id = item["library_id"] if item is not None else _uuid(data.get("libraryId"))
        summary = {key: value for key, value in data.items() if key not in _EXPANDED}
        if "userId" in data:
            summary["user"] = _named(users.get(user_id), user_id)
        if "profileId" in data:
            summary["profile"] = _named(profiles.get(profile_id), profile_id)
        session = sessions.get(_uuid(data.get("sessionId")))
        if session is not None:
            summary["device"] = (
                {"id": session["device_id"], "name": session["device_profile_name"]}
                if session["device_id"] is not None
                else None
            )
            summary["method"] = session["method"]
        if "itemId" in data:
            summary["item"] = _item(item, item_id)
        if library_id is not None and ("libraryId" in data or "itemId" in data):
            library = libraries.get(library_id)
            summary["library"] = (
                {"id": str(library_id), "name": library["name"], "kind": library["kind"]}
                if library is not None
                else {"id": str(library_id)}
            )
        if "webhookId" in data:
            row = webhooks.get(webhook_id)
            summary["webhook"] = (
                {"id": str(row["id"]), "name": row["name"], "url": row["url"]}
                if row is not None
                else {"id": str(webhook_id)}
            )
        summaries.append(Summary(summary, user_id, library_id))
    return summaries
