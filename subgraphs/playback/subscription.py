"""Playback subscriptions: live progress of a session's transcode."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.playback.transcode_progress import check_owner, watch_transcode
from subgraphs.playback.parties import PartySubscription
from subgraphs.playback.permissions import require_viewer
from subgraphs.playback.types import TranscodeProgress

__all__ = ["Subscription"]

Info = strawberry.Info[Context, None]


@strawberry.type
class Subscription(PartySubscription):
    @strawberry.subscription
    async def transcode_progress(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[TranscodeProgress, None]:
        """Each encoder run of the caller's transcode session now, then every change, until
        the encoders stop or fail."""
        viewer = await require_viewer(info, "read")
        session = parse_id(session_id, "sessionId")
        await check_owner(info.context.pool, viewer, session)
        updates = watch_transcode(info.context.pool, info.context.bus, session)
        async with contextlib.aclosing(updates):
            async for update in updates:
                yield TranscodeProgress.from_event(update)
