"""Playback mutations: start (a union with ``PlaybackError``), heartbeats, stop, marks."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

import strawberry

from infra.authz.service import AuthorizationService
from infra.errors import NotFound
from loaders.context import Context
from loaders.playback import ItemUserData
from resolvers.catalog.ids import parse_id
from resolvers.playback.devices import delete_device_profile, save_device_profile
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.leases import StreamLimits
from resolvers.playback.progress import report_progress, stop_playback
from resolvers.playback.resume import ResumeRules
from resolvers.playback.sessions import StartedSession, start_playback
from resolvers.playback.user_data import mark_played, mark_unplayed, rate_item, set_favorite
from subgraphs.playback.enums import PlaybackMethod, SubtitleDelivery
from subgraphs.playback.errors import PlaybackError, PlaybackErrorCode
from subgraphs.playback.inputs import DeviceProfileInput, profile_mapping
from subgraphs.playback.inputs import device_profile as _device_profile
from subgraphs.playback.parties import PartyMutation
from subgraphs.playback.permissions import require_viewer, visibility
from subgraphs.playback.types import (
    DeleteDeviceProfilePayload,
    DeviceProfile,
    MediaItem,
    PlaybackDecision,
    PlaybackProgress,
    PlaybackSession,
    StopPlaybackPayload,
    StoredDeviceProfile,
    SubtitleTrack,
    user_data_loader,
)

__all__ = ["Mutation", "StartPlaybackResult"]

Info = strawberry.Info[Context, None]

StartPlaybackResult = Annotated[
    PlaybackSession | PlaybackError, strawberry.union("StartPlaybackResult")
]
SaveDeviceProfileResult = Annotated[
    StoredDeviceProfile | PlaybackError, strawberry.union("SaveDeviceProfileResult")
]


def _session(started: StartedSession) -> PlaybackSession:
    decision = started.decision
    return PlaybackSession(
        id=strawberry.ID(str(started.id)),
        file_id=strawberry.ID(str(started.file_id)),
        stream_url=started.stream_url,
        decision=PlaybackDecision(
            method=PlaybackMethod(started.method.name),
            reasons=[reason.name for reason in started.reasons],
            target_container=started.target_container,
            transcode_video=decision.transcode_video,
            transcode_audio=decision.transcode_audio,
            encoder=started.encoder,
            audio_stream=decision.audio_stream,
            subtitle_stream=decision.subtitle_stream,
            subtitle_delivery=SubtitleDelivery(decision.subtitle_delivery.name),
        ),
        position_ms=started.position_ms,
        expires_at=started.expires_at,
        heartbeat_interval_ms=started.heartbeat_interval_ms,
        subtitles=[SubtitleTrack(**asdict(track)) for track in started.subtitles],
        trickplay_url=started.trickplay_url,
    )


async def _marked(info: Info, row: Any) -> MediaItem:
    if row is None:
        raise NotFound("no such item")
    loader = await user_data_loader(info)
    loader.clear(row["item_id"]).prime(row["item_id"], ItemUserData(row))
    return MediaItem(id=strawberry.ID(str(row["item_id"])))


def _entitlement(info: Info) -> Callable[[uuid.UUID], Awaitable[bool]] | None:
    """The entitlement policy's answer for the caller, per library (``None``: no service)."""
    authz: AuthorizationService | None = info.context.services.get("authz")
    if authz is None:
        return None
    principal = info.context.principal

    async def entitled(library_id: uuid.UUID) -> bool:
        return (await authz.entitled(principal, str(library_id))).allowed

    return entitled


@strawberry.type
class Mutation(PartyMutation):
    @strawberry.mutation
    async def start_playback(
        self,
        info: Info,
        item_id: strawberry.ID,
        device_profile_name: str | None = None,
        device_id: str | None = None,
        file_id: strawberry.ID | None = None,
        start_position_ms: int | None = None,
        device_profile: DeviceProfileInput | None = None,
        audio_stream: int | None = None,
        subtitle_stream: int | None = None,
    ) -> StartPlaybackResult:
        viewer = await require_viewer(info)
        profile = None
        if device_profile is not None:
            try:
                profile = _device_profile(device_profile)
            except ValueError as error:
                return PlaybackError(code=PlaybackErrorCode.INVALID_PROFILE, message=str(error))
        result = await start_playback(
            info.context.pool,
            info.context.bus,
            viewer,
            visibility(info),
            parse_id(item_id, "itemId"),
            signer=info.context.services.get("stream_signer"),
            limits=info.context.services.get("stream_limits", StreamLimits()),
            device_id=device_id,
            file_id=parse_id(file_id, "fileId") if file_id is not None else None,
            device_profile_name=device_profile_name,
            device_profile=profile,
            audio_stream=audio_stream,
            subtitle_stream=subtitle_stream,
            start_position_ms=start_position_ms,
            transcoding=info.context.services.get("transcoding"),
            entitled=_entitlement(info),
        )
        if isinstance(result, StartedSession):
            return _session(result)
        return PlaybackError(code=PlaybackErrorCode(result.code), message=result.message)

    @strawberry.mutation
    async def report_progress(
        self,
        info: Info,
        session_id: strawberry.ID,
        position_ms: int,
        is_paused: bool | None = None,
        buffered_ms: int | None = None,
        reported_at: Annotated[
            datetime.datetime | None,
            strawberry.argument(
                description="When the player took this report, by its clock (with an offset); "
                "default: when the server receives it. Of two reports of one session, the "
                "newer by this time wins, whatever order they arrive in."
            ),
        ] = None,
    ) -> PlaybackProgress:
        viewer = await require_viewer(info)
        heartbeats: HeartbeatCoalescer | None = info.context.services.get("heartbeats")
        if heartbeats is not None:
            progress = await heartbeats.record(
                parse_id(session_id, "sessionId"),
                viewer,
                position_ms,
                is_paused,
                buffered_ms,
                reported_at,
            )
        else:
            progress = await report_progress(
                info.context.pool,
                info.context.bus,
                viewer,
                parse_id(session_id, "sessionId"),
                position_ms,
                is_paused,
                buffered_ms,
                info.context.services.get("resume_rules", ResumeRules()),
                reported_at,
            )
        return PlaybackProgress(
            session_id=strawberry.ID(str(progress.session_id)),
            resume_position_ms=progress.resume_position_ms,
            is_played=progress.is_played,
            is_paused=progress.is_paused,
        )

    @strawberry.mutation
    async def stop_playback(self, info: Info, session_id: strawberry.ID) -> StopPlaybackPayload:
        viewer = await require_viewer(info)
        parsed = parse_id(session_id, "sessionId")
        heartbeats: HeartbeatCoalescer | None = info.context.services.get("heartbeats")
        if heartbeats is not None:
            await heartbeats.stopped(parsed)
        stopped = await stop_playback(info.context.pool, info.context.bus, viewer, parsed)
        return StopPlaybackPayload(session_id=strawberry.ID(str(stopped)))

    @strawberry.mutation
    async def mark_played(self, info: Info, item_id: strawberry.ID) -> MediaItem:
        viewer = await require_viewer(info)
        row = await mark_played(
            info.context.pool, viewer, visibility(info), parse_id(item_id, "itemId")
        )
        return await _marked(info, row)

    @strawberry.mutation
    async def mark_unplayed(self, info: Info, item_id: strawberry.ID) -> MediaItem:
        viewer = await require_viewer(info)
        row = await mark_unplayed(
            info.context.pool, viewer, visibility(info), parse_id(item_id, "itemId")
        )
        return await _marked(info, row)

    @strawberry.mutation
    async def set_favorite(self, info: Info, item_id: strawberry.ID, favorite: bool) -> MediaItem:
        viewer = await require_viewer(info)
        row = await set_favorite(
            info.context.pool, viewer, visibility(info), parse_id(item_id, "itemId"), favorite
        )
        return await _marked(info, row)

    @strawberry.mutation
    async def rate(self, info: Info, item_id: strawberry.ID, rating: float | None) -> MediaItem:
        """The profile's own rating, 0 to 10; null clears it."""
        viewer = await require_viewer(info)
        row = await rate_item(
            info.context.pool, viewer, visibility(info), parse_id(item_id, "itemId"), rating
        )
        return await _marked(info, row)

    @strawberry.mutation
    async def save_device_profile(
        self, info: Info, device_id: str, profile: DeviceProfileInput
    ) -> SaveDeviceProfileResult:
        """Store the capabilities of one of the caller's devices; startPlayback with that
        deviceId uses them when no profile is named or sent."""
        viewer = await require_viewer(info)
        try:
            stored = await save_device_profile(
                info.context.pool, viewer.user_id, device_id, profile_mapping(profile)
            )
        except ValueError as error:
            return PlaybackError(code=PlaybackErrorCode.INVALID_PROFILE, message=str(error))
        return StoredDeviceProfile(
            device_id=stored.device_id,
            profile=DeviceProfile.from_profile(stored.profile),
            updated_at=stored.updated_at,
        )

    @strawberry.mutation
    async def delete_device_profile(self, info: Info, device_id: str) -> DeleteDeviceProfilePayload:
        viewer = await require_viewer(info)
        deleted = await delete_device_profile(info.context.pool, viewer.user_id, device_id)
        return DeleteDeviceProfilePayload(device_id=device_id, deleted=deleted)
