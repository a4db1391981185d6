"""The request rules of every ``/graphql`` this project serves: the composed gateway's and a
subgraph's served alone (``revenge subgraph NAME``) for a federation router.

One place builds them from the settings, so both apply the same: credentials from headers or
from ``connection_init``, persisted-only API keys (trusted documents), the token, depth and
expanded-field limits, body and JSON nesting limits, and the WebSocket caps. An app that uses
it keeps ``app.state.database``, ``app.state.bus`` and ``app.state.services`` (with
``key_ring`` and ``authz``) set in its lifespan, calls ``attach`` once the pool is open and
``close`` on the way out.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from graphql import GraphQLSchema
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

from gateway.auth import authenticate, credentials_from
from gateway.graphql_http import ContextFactory, GraphQLService, graphql_routes
from gateway.persisted_queries import (
    REGISTRATION_POLICY,
    PersistedQueries,
    trusted_document_checker,
)
from gateway.schema import composed_schema
from infra.connection_slots import ConnectionSlots, open_connection_slots
from infra.keyvalue import open_keyvalue
from infra.ratelimit import open_limiter
from infra.settings import Settings
from loaders import Loaders
from loaders.context import Context

__all__ = ["GraphQLEdge", "request_context"]


def request_context(settings: Settings) -> ContextFactory:
    """``context_factory(connection, connection_params)``: the caller authenticated from the
    headers or the ``connection_init`` payload, and a fresh ``Context`` with its own loaders."""

    async def context_factory(connection: HTTPConnection, params: Any = None) -> Context:
        state = connection.app.state
        token, api_key = credentials_from(connection.headers, params)
        principal, session_id = await authenticate(
            state.database.pool, state.services, token, api_key
        )
        authz = state.services["authz"]
        return Context(
            pool=state.database.pool,
            # What the principal may see: the catalog policy's answer, once per request (cached
            # briefly per profile and policy version by the service).
            loaders=Loaders(state.database.pool, await authz.visibility(principal)),
            bus=state.bus,
            settings=settings,
            services=state.services,
            request_id=connection.scope.get("revenge.request_id") or uuid.uuid4().hex,
            principal=principal,
            session_id=session_id,
            client_address=connection.client.host if connection.client else None,
        )

    return context_factory


class _AttachedSlots:
    """The WebSocket places the routes were built with, backed by Redis or PostgreSQL once
    ``attach`` hands over the pool (before the app serves anything)."""

    def __init__(self, cache_url: str | None) -> None:
        self.cache_url = cache_url
        self.store: ConnectionSlots = open_connection_slots(cache_url, None)

    def attach(self, pool: asyncpg.Pool) -> None:
        self.store = open_connection_slots(self.cache_url, pool)

    @property
    def ttl_seconds(self) -> float:
        return self.store.ttl_seconds

    @ttl_seconds.setter
    def ttl_seconds(self, value: float) -> None:
        self.store.ttl_seconds = value

    async def take(self, key: str, limit: int) -> str | None:
        return await self.store.take(key, limit)

    async def renew(self, key: str, token: str) -> None:
        await self.store.renew(key, token)

    async def give_back(self, key: str, token: str) -> None:
        await self.store.give_back(key, token)

    async def close(self) -> None:
        await self.store.close()


class GraphQLEdge:
    """``/graphql`` over HTTP and WebSocket for ``schema`` with the project's request rules."""

    def __init__(self, settings: Settings, schema: GraphQLSchema) -> None:
        self.settings = settings
        self.connection_slots = _AttachedSlots(settings.cache_url)
        self.persisted = PersistedQueries()
        # Trusted documents are what clients run through the gateway: checked against the
        # composed schema, with the same limits, whichever app registers them.
        self.document_checker = trusted_document_checker(
            GraphQLService(
                composed_schema().schema,
                max_depth=settings.graphql_max_depth,
                max_tokens=settings.graphql_max_tokens,
                max_fields=settings.graphql_max_fields,
            ).check
        )
        self.routes: list[BaseRoute] = graphql_routes(
            schema,
            request_context(settings),
            dev_mode=settings.dev_mode,
            max_depth=settings.graphql_max_depth,
            max_tokens=settings.graphql_max_tokens,
            max_fields=settings.graphql_max_fields,
            max_connections_per_user=settings.graphql_ws_max_connections_per_user,
            connection_slots=self.connection_slots,
            recheck_seconds=settings.graphql_ws_recheck_seconds,
            persisted=self.persisted,
            ws_max_operations=settings.graphql_ws_max_operations,
            ws_max_pending=settings.graphql_ws_max_pending,
            ws_max_pending_per_address=settings.graphql_ws_max_pending_per_address,
        )

    def attach(self, pool: asyncpg.Pool) -> None:
        """Back persisted queries with the pool (and Redis when configured): APQ documents
        shared by the replicas, the trusted documents of persisted-only keys, and the quota of
        new documents per caller counted in Redis or PostgreSQL, so across every process."""
        cache_url = self.settings.cache_url
        self.connection_slots.attach(pool)  # a user's sockets counted across every process
        self.persisted.attach(
            pool,
            open_keyvalue(cache_url) if cache_url else None,
            open_limiter(cache_url, REGISTRATION_POLICY, pool=pool),
        )

    async def close(self) -> None:
        await self.persisted.close()
        await self.connection_slots.close()
