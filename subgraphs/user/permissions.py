"""Who may use which account field, decided by the shared AuthorizationService.

Queries refuse by raising (``UNAUTHENTICATED`` / ``FORBIDDEN`` in ``extensions.code``);
mutations refuse an anonymous caller the same way and a signed-in one with ``AuthError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from infra.authz.principal import Principal
from infra.authz.service import AuthorizationService
from infra.errors import Forbidden, Unauthenticated
from subgraphs.user.errors import AuthError, AuthErrorCode

__all__ = [
    "admin_refusal",
    "is_admin",
    "principals_changed",
    "require_admin",
    "require_user",
    "scopes_within",
    "session_refusal",
]


def is_admin(principal: Principal, authz: AuthorizationService) -> bool:
    """An administrator acting as one, as the authorization service decides."""
    return authz.administers(principal)


def require_user(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Unauthenticated("sign in first")
    return uuid.UUID(principal.user_id)


def require_admin(principal: Principal, authz: AuthorizationService) -> uuid.UUID:
    user_id = require_user(principal)
    if not is_admin(principal, authz):
        raise Forbidden("administrators only")
    return user_id


def admin_refusal(principal: Principal, authz: AuthorizationService) -> AuthError | None:
    """None for an administrator; an AuthError for anyone else signed in (anonymous: raises)."""
    require_user(principal)
    if is_admin(principal, authz):
        return None
    return AuthError(code=AuthErrorCode.FORBIDDEN, message="administrators only")


def session_refusal(principal: Principal, session_id: str | None) -> AuthError | None:
    """Account security (password, second factor, keys, profiles' tokens) needs an interactive
    sign-in: an API key, however scoped, cannot change its owner's credentials."""
    require_user(principal)
    if principal.auth_method == "jwt" and session_id is not None:
        return None
    return AuthError(
        code=AuthErrorCode.FORBIDDEN, message="this needs a signed-in session, not an API key"
    )


def _covers(held: str, wanted: str) -> bool:
    if held in (wanted, "admin:*"):
        return True
    namespace = wanted.split(":", 1)[0]
    return held == f"{namespace}:*"


def scopes_within(held: Iterable[str], wanted: Iterable[str]) -> bool:
    """Whether every wanted scope is covered by one the caller holds (a key never exceeds the
    credential that made it)."""
    held_scopes = list(held)
    return all(any(_covers(h, w) for h in held_scopes) for w in wanted)


async def principals_changed(info: Any, user_id: object | None) -> None:
    """After a committed change to what a principal holds (session, roles, disabled, profile,
    key, client): every process forgets the user's cached principals (``None``: everyone's)."""
    cache = info.context.services.get("principals")
    if cache is not None:
        await cache.changed(None if user_id is None else str(user_id))
