"""Server events: what happened, once, with an id fixed where it happened.

Domains publish these on one bus topic (``SERVER_EVENTS_TOPIC``) besides their own topics;
outbound webhooks listen there. The id is made at publish time, so every process that hears
the event (with Redis, every gateway replica hears every event) names it the same way and
one of them alone acts on it. ``data`` holds ids and facts the publisher already has; the
listener adds what a receiver needs to read them (names, titles).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from infra.bus import EventBus

__all__ = ["SERVER_EVENTS_TOPIC", "new_event_id", "publish_server_event", "server_event"]

SERVER_EVENTS_TOPIC = "server_events"


_last = 0  # the last id's 48-bit milliseconds and 74 random bits, as one number


def new_event_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so ids sort as the events happened; within one process each id
    is greater than the one before, even in the same millisecond."""
    global _last
    milliseconds = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    state = max((milliseconds << 74) | int.from_bytes(os.urandom(10), "big") >> 6, _last + 1)
    _last = state
    rand_a, rand_b = (state >> 62) & 0xFFF, state & ((1 << 62) - 1)
    return uuid.UUID(int=(state >> 74) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b)


def server_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(new_event_id()),
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }


async def publish_server_event(bus: EventBus, event_type: str, data: dict[str, Any]) -> None:
    """Publish ``event_type`` with ``data`` (JSON-able: strings for ids and times)."""
    await bus.publish(SERVER_EVENTS_TOPIC, server_event(event_type, data))
