"""Who is asking: the principal the gateway resolves from a JWT, an API key, or nobody."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ANONYMOUS", "AuthMethod", "Principal"]

AuthMethod = Literal["jwt", "api_key", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, with everything authorization needs and nothing else.

    ``scopes`` bound what the credential may do, whatever the roles allow: an API key carries the
    scopes it was minted with; the gateway gives an interactive (JWT) session the scopes of its
    account (typically ``catalog:*``, ``playback:*``, plus ``admin:*`` for administrators and
    ``legacy:read`` where the qar module is enabled). ``roles`` are role names without the ``role:``
    prefix (``admin``, ``user``, ``guest``, ``kids``). The profile fields carry the active profile's
    limits; ``max_rating`` is a rating of the catalog policy's ``ranks`` table or ``None`` for no
    limit.
    """

    user_id: str | None
    profile_id: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    auth_method: AuthMethod = "anonymous"
    is_kids: bool = False
    max_rating: str | None = None
    allow_unrated: bool = False
    blocked_tags: frozenset[str] = frozenset()
    allowed_tags: frozenset[str] = frozenset()
    pin_unlocked: bool = False
    # The active profile's own choice of libraries (None: every library the account may read);
    # it narrows what the grants allow, never widens it.
    profile_library_ids: frozenset[str] | None = None
    # An API key may belong to a registered client (a third-party app); a "persisted only" key
    # runs that client's registered documents and nothing else (the gateway enforces it).
    api_client_id: str | None = None
    persisted_only: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Principal(user_id=None)
