"""The request context every subgraph field reads (``info.context``).

Built by the gateway for each HTTP request or WebSocket operation: a fresh set of loaders, the
shared pool, bus, settings and services. It lives beside the loaders because it is the request
scope they belong to; subgraphs read it (no subgraph imports another, nor a module of theirs),
and they never build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from infra.authz.principal import ANONYMOUS, Principal
from infra.bus import EventBus
from infra.settings import Settings
from loaders import Loaders

__all__ = ["Context"]


@dataclass(slots=True, eq=False, weakref_slot=True)
class Context:
    pool: asyncpg.Pool
    loaders: Loaders
    bus: EventBus
    settings: Settings
    services: dict[str, Any]
    request_id: str
    # Who is asking (ANONYMOUS until the gateway authenticates the request), the sign-in
    # session a JWT belongs to, and the client's address as the gateway saw it.
    principal: Principal = ANONYMOUS
    session_id: str | None = None
    client_address: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
