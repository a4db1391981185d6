"""The one authorization service resolvers use: Casbin for roles and grants, Rego for attributes.

A decision needs all of: a role or grant of one of the principal's subjects (Casbin), a scope of its
credential covering the action (keyMatch), and -- where the resource has attributes -- the Rego rule
for it (parental rating and tags, qar PIN, playback entitlement). ``visibility`` turns the same
rules into values a list query puts in its ``WHERE`` clause, so counts and pages never see hidden
items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.authz.casbin_engine import ALL, AllLibraries, CasbinEngine
from infra.authz.principal import Principal
from infra.authz.ratings import max_rank
from infra.authz.rego_engine import PolicyEngine
from infra.errors import Forbidden

__all__ = [
    "Action",
    "AuthorizationService",
    "Decision",
    "Resource",
    "VisibilityFilter",
    "required_scope",
    "subjects_of",
]

Action = Literal["read", "write"]

_SCOPE_NAMESPACE = {"qar": "legacy"}


@dataclass(frozen=True, slots=True)
class Resource:
    """What is asked about.

    ``kind`` is ``catalog``, ``playback``, ``qar`` or ``admin:<area>``. A catalog resource with
    ``item=True`` is one item, so its rating and tags are checked; without it the question is about
    a library (or the catalog as a whole). ``owner_id`` tells own playback state from someone
    else's.
    """

    kind: str
    library_id: str | None = None
    owner_id: str | None = None
    item: bool = False
    rating: str | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def catalog_item(
        cls, library_id: str, rating: str | None, tags: tuple[str, ...] = ()
    ) -> Resource:
        return cls("catalog", library_id=library_id, item=True, rating=rating, tags=tags)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class VisibilityFilter:
    """What a list query of the catalog must put into ``WHERE``.

    ``library_ids`` is ``ALL`` (no library condition) or the ids to match with ``= ANY($n)`` (empty:
    nothing is visible). An item passes the rating condition when ``max_rating_rank`` is ``None``,
    or its rank (``infra.authz.ratings.rating_rank``) is at most ``max_rating_rank``, or it is
    unrated and ``allow_unrated``. Tags are lower case: no item tag may be in ``blocked_tags``
    (``NOT tags && $n``), and when ``allowed_tags`` is not empty one must be in it (``tags && $n``).
    """

    library_ids: frozenset[str] | AllLibraries
    max_rating_rank: int | None = None
    allow_unrated: bool = True
    blocked_tags: frozenset[str] = field(default_factory=frozenset)
    allowed_tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def nothing_visible(self) -> bool:
        return self.library_ids is not ALL and not self.library_ids


def subjects_of(principal: Principal) -> list[str]:
    """The Casbin subjects a principal acts as.

    A kids profile acts as itself and the ``kids`` role only -- never with its account's roles or
    user-level grants, so a parent's ``admin`` role does not leak into the child's profile.
    """
    if principal.user_id is None:
        return ["role:anonymous"]
    profile = [f"profile:{principal.profile_id}"] if principal.profile_id else []
    if principal.is_kids:
        return [*profile, "role:kids"]
    roles = [f"role:{role}" for role in sorted(principal.roles)]
    return [f"user:{principal.user_id}", *profile, *roles]


def required_scope(kind: str, action: str) -> str:
    """The scope an action needs: ``catalog:read``, ``playback:write``, ``legacy:read`` (qar) …"""
    namespace = kind.split(":", 1)[0]
    return f"{_SCOPE_NAMESPACE.get(namespace, namespace)}:{action}"


def _profile_input(principal: Principal) -> dict[str, Any]:
    return {
        "max_rating": principal.max_rating,
        "allow_unrated": principal.allow_unrated,
        "blocked_tags": sorted(principal.blocked_tags),
        "allowed_tags": sorted(principal.allowed_tags),
    }


class AuthorizationService:
    """Built once in the lifespan; shared by every request (both engines are
    request-independent)."""

    def __init__(self, casbin: CasbinEngine, policies: PolicyEngine) -> None:
        self.casbin = casbin
        self.policies = policies

    async def can(self, principal: Principal, action: Action, resource: Resource) -> Decision:
        granted = self._roles_and_scopes(principal, action, resource)
        if not granted.allowed:
            return granted
        rule = self._rule(resource, action)
        if rule is not None:
            query, input = rule
            answer = await self.policies.decide(query, self._input(principal, resource, input))
            if not isinstance(answer, Mapping) or answer.get("allow") is not True:
                reasons = answer.get("reasons") if isinstance(answer, Mapping) else None
                listed = ", ".join(sorted(reasons)) if reasons else "undefined"
                return Decision(False, f"{query.split('/')[1]} policy: {listed}")
        return Decision(True, "allowed")

    def can_without_policies(
        self, principal: Principal, action: Action, resource: Resource
    ) -> Decision:
        """``can`` for resources no Rego policy governs (``admin:<area>``), without awaiting:
        roles, grants and scopes only. Refuses to answer for policy-governed resources."""
        if self._rule(resource, action) is not None:
            raise ValueError(f"{resource.kind} {action} needs the policies: use can()")
        return self._roles_and_scopes(principal, action, resource)

    def _roles_and_scopes(
        self, principal: Principal, action: Action, resource: Resource
    ) -> Decision:
        """The Casbin half: a role or grant of one of the principal's subjects, and the scope."""
        domain = f"library:{resource.library_id}" if resource.library_id else "global"
        obj = self._object(principal, resource)
        if not any(self.casbin.enforce(s, domain, obj, action) for s in subjects_of(principal)):
            return Decision(False, f"no role or grant allows {action} on {obj}")
        scope = required_scope(resource.kind, action)
        if not self.casbin.scope_allows(principal.scopes, scope):
            return Decision(False, f"missing scope {scope}")
        return Decision(True, "allowed")

    def administers(self, principal: Principal) -> bool:
        """An administrator acting as one: a role allowed to administer users, a credential with
        the admin scope, and not on a kids profile (a child never acts with the account's
        roles)."""
        if principal.user_id is None:
            return False
        return self.can_without_policies(principal, "write", Resource(kind="admin:users")).allowed

    async def require(self, principal: Principal, action: Action, resource: Resource) -> None:
        """``can``, raising ``Forbidden`` (``extensions.code`` FORBIDDEN) when refused."""
        decision = await self.can(principal, action, resource)
        if not decision.allowed:
            raise Forbidden(f"not allowed to {action} {resource.kind}", reason=decision.reason)

    def visibility(self, principal: Principal) -> VisibilityFilter:
        if not self.casbin.scope_allows(principal.scopes, "catalog:read"):
            return VisibilityFilter(library_ids=frozenset())
        readable = self.casbin.libraries_readable(subjects_of(principal))
        library_ids: frozenset[str] | AllLibraries = ALL if readable is ALL else frozenset(readable)
        if principal.profile_library_ids is not None:
            library_ids = (
                principal.profile_library_ids
                if library_ids is ALL
                else library_ids & principal.profile_library_ids
            )
        return VisibilityFilter(
            library_ids=library_ids,
            max_rating_rank=max_rank(principal.max_rating),
            allow_unrated=principal.max_rating is None or principal.allow_unrated,
            blocked_tags=frozenset(tag.lower() for tag in principal.blocked_tags),
            allowed_tags=frozenset(tag.lower() for tag in principal.allowed_tags),
        )

    @staticmethod
    def _object(principal: Principal, resource: Resource) -> str:
        if resource.kind == "playback":
            own = principal.user_id is not None and resource.owner_id == principal.user_id
            return "playback:own" if own else "playback:others"
        return resource.kind

    @staticmethod
    def _rule(resource: Resource, action: str) -> tuple[str, str] | None:
        if resource.kind == "catalog" and resource.item:
            return "revenge/catalog/decision", "catalog"
        if resource.kind == "qar":
            return "revenge/qar/decision", "qar"
        if resource.kind == "playback" and action == "write":
            return "revenge/entitlement/decision", "entitlement"
        return None

    @staticmethod
    def _input(principal: Principal, resource: Resource, kind: str) -> dict[str, Any]:
        if kind == "catalog":
            return {
                "item": {"rating": resource.rating, "tags": list(resource.tags)},
                "profile": _profile_input(principal),
            }
        if kind == "qar":
            return {"scopes": sorted(principal.scopes), "pin_unlocked": principal.pin_unlocked}
        return {
            "user_id": principal.user_id,
            "resource": {"kind": resource.kind, "library_id": resource.library_id},
        }
