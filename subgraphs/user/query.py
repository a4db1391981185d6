"""Account root query fields: read the context, check who asks, call a resolver, map rows."""

from __future__ import annotations

import strawberry

from loaders.context import Context
from loaders.user import user_loaders
from resolvers.user.accounts import has_admin
from resolvers.user.api_keys import list_api_keys
from resolvers.user.sessions import list_sessions
from resolvers.user.users import list_audit_events, list_users
from subgraphs.user.api_clients import ApiClientQuery
from subgraphs.user.permissions import require_admin, require_user
from subgraphs.user.types import ApiKey, AuditEvent, AuthSession, User
from subgraphs.user.webhooks import WebhookQuery

__all__ = ["Query"]

Info = strawberry.Info[Context, None]


@strawberry.type
class Query(ApiClientQuery, WebhookQuery):
    @strawberry.field
    async def me(self, info: Info) -> User | None:
        """The signed-in user; null for an anonymous caller."""
        if info.context.principal.user_id is None:
            return None
        user_id = require_user(info.context.principal)
        row = await user_loaders(info.context).user_by_id.load(user_id)
        return User.from_row(row) if row is not None else None

    @strawberry.field
    async def setup_required(self, info: Info) -> bool:
        """True until the first administrator exists (then `setup` is closed)."""
        return not await has_admin(info.context.pool)

    @strawberry.field
    async def users(self, info: Info) -> list[User]:
        require_admin(info.context.principal, info.context.services["authz"])
        rows = await list_users(info.context.pool)
        loader = user_loaders(info.context).user_by_id
        for row in rows:
            loader.prime(row["id"], row)
        return [User.from_row(row) for row in rows]

    @strawberry.field
    async def api_keys(self, info: Info) -> list[ApiKey]:
        """Your API keys, newest first (revoked ones included)."""
        rows = await list_api_keys(info.context.pool, require_user(info.context.principal))
        return [ApiKey.from_row(row) for row in rows]

    @strawberry.field
    async def sessions(self, info: Info) -> list[AuthSession]:
        """Your sign-in sessions, open ones first."""
        rows = await list_sessions(info.context.pool, require_user(info.context.principal))
        return [AuthSession.from_row(row, info.context.session_id) for row in rows]

    @strawberry.field
    async def audit_events(self, info: Info, first: int = 50) -> list[AuditEvent]:
        """The newest audit events (administrators only)."""
        require_admin(info.context.principal, info.context.services["authz"])
        rows = await list_audit_events(info.context.pool, first)
        return [AuditEvent.from_row(row) for row in rows]
