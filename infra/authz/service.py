"""The one authorization service resolvers use: Casbin for roles and grants, Rego for attributes.

A decision needs all of: a role or grant of one of the principal's subjects (Casbin), a scope of its
credential covering the action (keyMatch), and -- where the resource has attributes -- the Rego rule
for it (parental rating and tags, qar PIN, playback entitlement). ``visibility`` turns the same
rules into values a list query puts in its ``WHERE`` clause, so counts and pages never see hidden
items.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.authz.casbin_engine import ALL, AllLibraries, CasbinEngine
from infra.authz.principal import Principal
from infra.authz.rego_engine import PolicyEngine, PolicyError, rating_ranks
from infra.errors import Forbidden

__all__ = [
    "VISIBILITY_RULE",
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

VISIBILITY_RULE = "revenge/catalog/visibility"
_CACHED_VIEWS = 4096


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
    or its effective rank (stored from the policy's ``ranks`` table) is at most
    ``max_rating_rank``, or it is unrated and ``allow_unrated``. Tags are lower case: no item tag
    may be in ``blocked_tags`` (``NOT tags && $n``), and when ``allowed_tags`` is not empty one
    must be in it (``tags && $n``).
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


NOTHING_VISIBLE = VisibilityFilter(library_ids=frozenset())


def _profile_input(principal: Principal) -> dict[str, Any]:
    libraries = principal.profile_library_ids
    return {
        "max_rating": principal.max_rating,
        "allow_unrated": principal.allow_unrated,
        "is_kids": principal.is_kids,
        "blocked_tags": sorted(principal.blocked_tags),
        "allowed_tags": sorted(principal.allowed_tags),
        "library_ids": None if libraries is None else sorted(libraries),
    }


def _strings(answer: Mapping[str, Any], key: str) -> frozenset[str]:
    values = answer.get(key)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{VISIBILITY_RULE}: {key} is not a list of strings")
    return frozenset(values)


def visibility_from(answer: Any) -> VisibilityFilter:
    """The policy's ``visibility`` document as a filter; a malformed one raises ``PolicyError``
    (an undefined rule included) rather than guessing what may be shown."""
    if not isinstance(answer, Mapping):
        raise PolicyError(f"{VISIBILITY_RULE} answered {answer!r}")
    rank = answer.get("max_rank")
    if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool)):
        raise PolicyError(f"{VISIBILITY_RULE}: max_rank is not an integer or null")
    if not isinstance(answer.get("all_libraries"), bool) or not isinstance(
        answer.get("allow_unrated"), bool
    ):
        raise PolicyError(f"{VISIBILITY_RULE}: all_libraries and allow_unrated are booleans")
    library_ids = _strings(answer, "library_ids")
    return VisibilityFilter(
        library_ids=ALL if answer["all_libraries"] else library_ids,
        max_rating_rank=rank,
        allow_unrated=answer["allow_unrated"],
        blocked_tags=_strings(answer, "blocked_tags"),
        allowed_tags=_strings(answer, "allowed_tags"),
    )


class AuthorizationService:
    """Built once in the lifespan; shared by every request (both engines are
    request-independent)."""

    def __init__(
        self, casbin: CasbinEngine, policies: PolicyEngine, *, cache_seconds: float = 5.0
    ) -> None:
        self.casbin = casbin
        self.policies = policies
        # (subjects, profile limits, rule generation, policy version) -> (expiry, filter). The
        # version makes an edited policy apply at once in-process; the expiry bounds how long an
        # OPA server's change (invisible from here) takes to arrive.
        self._cache_seconds = cache_seconds
        self._views: dict[Hashable, tuple[float, VisibilityFilter]] = {}
        self._ranks: tuple[Hashable, float, Mapping[str, int]] | None = None

    async def can(self, principal: Principal, action: Action, resource: Resource) -> Decision:
        granted = self._roles_and_scopes(principal, action, resource)
        if not granted.allowed:
            return granted
        return await self._policy(principal, action, resource)

    async def entitled(self, principal: Principal, library_id: str) -> Decision:
        """Whether ``principal`` may start playing from ``library_id``: ``entitlement.rego``
        alone (billing tiers go there); roles and scopes are checked before by the caller."""
        resource = Resource("playback", library_id=library_id, owner_id=principal.user_id)
        return await self._policy(principal, "write", resource)

    async def _policy(self, principal: Principal, action: Action, resource: Resource) -> Decision:
        """The Rego half: the rule governing ``resource``, if one does."""
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

    async def visibility(self, principal: Principal) -> VisibilityFilter:
        """What ``principal`` may see of the catalog, decided by the catalog policy's
        ``visibility`` rule from the profile's limits and Casbin's library grants. Without the
        ``catalog:read`` scope nothing is visible and no policy is asked."""
        if not self.casbin.scope_allows(principal.scopes, "catalog:read"):
            return NOTHING_VISIBLE
        subjects = subjects_of(principal)
        key = (
            tuple(subjects),
            principal.is_kids,
            principal.max_rating,
            principal.allow_unrated,
            principal.blocked_tags,
            principal.allowed_tags,
            principal.profile_library_ids,
            self.casbin.generation,
            await self.policies.version(),
        )
        now = time.monotonic()
        cached = self._views.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        readable = self.casbin.libraries_readable(subjects)
        grants = {
            "all_libraries": readable is ALL,
            "library_ids": [] if readable is ALL else sorted(readable),
        }
        answer = await self.policies.decide(
            VISIBILITY_RULE, {"profile": _profile_input(principal), "grants": grants}
        )
        view = visibility_from(answer)
        if len(self._views) >= _CACHED_VIEWS:
            self._views.clear()
        self._views[key] = (now + self._cache_seconds, view)
        return view

    async def rating_ranks(self) -> Mapping[str, int]:
        """The catalog policy's rating table (``ranks``): rating, trimmed and upper case, to
        rank. The scanner stores items' ranks from it; profile limits are validated against it."""
        version = await self.policies.version()
        now = time.monotonic()
        if self._ranks is not None and self._ranks[0] == version and self._ranks[1] > now:
            return self._ranks[2]
        ranks = await rating_ranks(self.policies)
        self._ranks = (version, now + self._cache_seconds, ranks)
        return ranks

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
