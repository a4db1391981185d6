"""Who may play: a signed-in caller whose credential carries the playback scope, acting for
its active profile. Sessions are checked against that viewer in the resolvers."""

from __future__ import annotations

import uuid
from typing import Any

from infra.authz.service import VisibilityFilter
from infra.errors import Forbidden, Unauthenticated
from resolvers.playback.profiles import active_profile_id
from resolvers.playback.sessions import Viewer

__all__ = ["require_viewer", "visibility"]

_VIEWER_KEY = "playback.viewer"


async def require_viewer(info: Any, action: str = "write") -> Viewer:
    """The caller and the profile playback is recorded for; anonymous callers are refused."""
    principal = info.context.principal
    if not principal.is_authenticated:
        raise Unauthenticated("sign in to play")
    authz = info.context.services.get("authz")
    if authz is not None and not authz.casbin.scope_allows(principal.scopes, f"playback:{action}"):
        raise Forbidden(f"this credential lacks the playback:{action} scope")
    state = info.context.state
    viewer: Viewer | None = state.get(_VIEWER_KEY)
    if viewer is None:
        user_id = uuid.UUID(principal.user_id)
        given = uuid.UUID(principal.profile_id) if principal.profile_id else None
        profile_id = await active_profile_id(info.context.pool, user_id, given)
        viewer = state[_VIEWER_KEY] = Viewer(user_id=user_id, profile_id=profile_id)
    return viewer


def visibility(info: Any) -> VisibilityFilter:
    """The catalog visibility the gateway derived from the principal."""
    result: VisibilityFilter = info.context.loaders.catalog.visibility
    return result
