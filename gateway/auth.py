"""Authentication at the edge: credentials in, a ``Principal`` out.

HTTP requests carry ``Authorization: Bearer <access token>`` or ``X-Api-Key: <key>``; a
WebSocket carries the same in its ``connection_init`` payload (``{"authorization": "Bearer …"}``
or ``{"apiKey": "…"}``), falling back to the handshake's headers. No credentials means the
anonymous principal; wrong credentials are refused (``UNAUTHENTICATED``), never downgraded to
anonymous.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import asyncpg
import structlog

from infra.authz.casbin_engine import RULES_CHANGED_TOPIC, CasbinEngine
from infra.authz.principal import ANONYMOUS, Principal
from infra.authz.rego_engine import open_policy_engine
from infra.authz.service import AuthorizationService
from infra.bus import EventBus
from infra.errors import Unauthenticated
from infra.key_rotation import key_ring_path, rotate_keys_forever
from infra.principal_cache import PrincipalCache
from infra.ratelimit import open_limiter
from infra.settings import Settings
from infra.signing import StreamSigner
from infra.tokens import InvalidAccessToken, KeyRing, verify_access_token
from resolvers.user.principals import principal_for_access_token, principal_for_api_key

log = structlog.get_logger("revenge.auth")

__all__ = ["authenticate", "close_auth_services", "credentials_from", "open_auth_services"]


def credentials_from(
    headers: Mapping[str, str], params: Any = None
) -> tuple[str | None, str | None]:
    """The (bearer token, API key) a request presents, payload before headers."""
    authorization = headers.get("authorization")
    api_key = headers.get("x-api-key")
    if isinstance(params, Mapping):
        for name in ("authorization", "Authorization"):
            if isinstance(params.get(name), str):
                authorization = params[name]
        for name in ("apiKey", "x-api-key", "X-Api-Key"):
            if isinstance(params.get(name), str):
                api_key = params[name]
    token = None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Authorization must be 'Bearer <access token>'")
        token = value.strip()
    return token, (api_key.strip() if api_key else None)


async def authenticate(
    pool: asyncpg.Pool, services: Mapping[str, Any], token: str | None, api_key: str | None
) -> tuple[Principal, str | None]:
    """The principal and, for a signed-in session, its session id. ``services`` are those of
    ``open_auth_services``: the key ring, and the principal cache that answers without a
    database round trip when it holds the credential."""
    ring: KeyRing = services["key_ring"]
    cache: PrincipalCache | None = services.get("principals")
    if token is not None and api_key is not None:
        raise Unauthenticated("send either a bearer token or an API key, not both")
    if token is not None:
        try:
            claims = verify_access_token(ring, token)
            return await principal_for_access_token(pool, claims, cache), claims.session_id
        except InvalidAccessToken as error:  # the caller learns nothing more than "invalid"
            log.info("access token refused", reason=error.reason)
            raise
    if api_key is not None:
        return await principal_for_api_key(pool, api_key, cache), None
    return ANONYMOUS, None


async def open_auth_services(
    settings: Settings, pool: asyncpg.Pool, bus: EventBus
) -> dict[str, Any]:
    """What authentication and authorization need for the life of the process: the token key
    ring, the principal cache, the failed-sign-in limiter and the authorization service (Casbin
    rules read from PostgreSQL, reloaded when any process changes them; Rego policies in-process
    or on an OPA server) and the signing keys' scheduled rotation."""
    async with pool.acquire() as conn:
        casbin = await CasbinEngine.from_database(conn)
    ring = KeyRing.open(key_ring_path(settings.data_dir))
    principals = PrincipalCache(bus)  # forgets a changed user on every process through the bus
    principals.start()
    return {
        "principals": principals,
        "key_ring": ring,
        "key_rotation": asyncio.create_task(
            rotate_keys_forever(ring, settings.auth_key_rotation_days)
        ),
        "stream_signer": StreamSigner.for_data_dir(settings.data_dir),
        "limiter": open_limiter(settings.cache_url, pool=pool),  # shared by every process
        "policies": (policies := open_policy_engine(settings.opa_url, settings.policies_dir)),
        "authz": AuthorizationService(casbin, policies),
        "authz_follower": asyncio.create_task(_follow_rule_changes(bus, pool, casbin)),
    }


async def _follow_rule_changes(bus: EventBus, pool: asyncpg.Pool, casbin: CasbinEngine) -> None:
    changes = bus.subscribe(RULES_CHANGED_TOPIC)
    try:
        async for _ in changes:
            try:
                async with pool.acquire() as conn:
                    await casbin.reload(conn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("could not reload authorization rules", error=str(error))
    finally:
        # Cancelled at shutdown, the subscription still unsubscribes and closes its connection
        # (Redis) here, instead of leaving it to the garbage collector.
        aclose = getattr(changes, "aclose", None)
        if aclose is not None:
            await aclose()


async def close_auth_services(services: Mapping[str, Any]) -> None:
    for name in ("authz_follower", "key_rotation"):
        task: asyncio.Task[None] = services[name]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await services["principals"].close()
    await services["limiter"].close()
    await services["policies"].aclose()
