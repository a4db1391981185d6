"""Who may use the catalog's fields. The decisions come from the authorization service: the
gateway turns the principal into a visibility filter (``context.loaders.catalog.visibility``)
that every read applies in SQL; here anonymous callers are refused and administration needs
the admin role with the ``admin:*`` scope."""

from __future__ import annotations

from typing import Any

from infra.authz.service import Resource, VisibilityFilter
from infra.errors import Forbidden, Unauthenticated

__all__ = ["administers_libraries", "require_admin", "require_reader"]


def require_reader(info: Any) -> VisibilityFilter:
    """The caller's visibility filter; anonymous callers are refused."""
    principal = info.context.principal
    if not principal.is_authenticated:
        raise Unauthenticated("sign in to browse the catalog")
    authz = info.context.services.get("authz")
    if authz is not None and not authz.casbin.scope_allows(principal.scopes, "catalog:read"):
        raise Forbidden("this credential lacks the catalog:read scope")
    visibility: VisibilityFilter = info.context.loaders.catalog.visibility
    return visibility


def administers_libraries(info: Any) -> bool:
    """Whether the caller administers libraries (roles, grants and scopes; a kids profile never
    does): the fields that describe the server rather than the catalog (root folders, scans)
    answer null to anyone else. Decided once per request."""
    state: dict[str, Any] = info.context.state
    decided = state.get("catalog.administers_libraries")
    if decided is None:
        principal = info.context.principal
        authz = info.context.services.get("authz")
        decided = (
            principal.is_authenticated
            and authz is not None
            and authz.can_without_policies(
                principal, "write", Resource(kind="admin:libraries")
            ).allowed
        )
        state["catalog.administers_libraries"] = decided
    return bool(decided)


async def require_admin(info: Any, area: str = "libraries") -> None:
    """Administration of the catalog, decided by the authorization service (roles, grants and
    scopes: ``admin:<area>`` needs a role allowed to write it and the ``admin:*`` scope)."""
    principal = info.context.principal
    if not principal.is_authenticated:
        raise Unauthenticated("sign in first")
    await info.context.services["authz"].require(principal, "write", Resource(kind=f"admin:{area}"))
