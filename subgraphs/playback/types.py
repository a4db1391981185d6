"""Playback object types, and the catalog's ``MediaItem`` entity extended with ``userData``."""

from __future__ import annotations

import datetime
import functools
import uuid
from enum import Enum
from typing import Any

import strawberry

import media.playback as media_playback
from loaders.context import Context
from loaders.peek import MISSING, Peek
from loaders.playback import ItemUserData, UserDataByItemIdLoader
from subgraphs.playback.enums import PlaybackMethod, SubtitleDelivery
from subgraphs.playback.permissions import require_viewer, visibility

__all__ = [
    "ActivePlaybackSession",
    "DeleteDeviceProfilePayload",
    "DeviceProfile",
    "MediaItem",
    "PlaybackDecision",
    "PlaybackSession",
    "StoredDeviceProfile",
    "SubtitleTrack",
    "TranscodeProgress",
    "TranscodeStatus",
    "UserData",
]

Info = strawberry.Info[Context, None]

_LOADER_KEY = "playback.user_data_by_item_id"


@strawberry.type
class UserData:
    position_ms: int
    is_played: bool
    play_count: int
    last_played_at: datetime.datetime | None
    is_favorite: bool
    rating: float | None

    @classmethod
    def from_row(cls, row: Any) -> UserData:
        return cls(
            position_ms=row["position_ms"],
            is_played=row["is_played"],
            play_count=row["play_count"],
            last_played_at=row["last_played_at"],
            is_favorite=row["is_favorite"],
            rating=row["rating"],
        )


async def user_data_loader(info: Info) -> UserDataByItemIdLoader:
    """The request's loader for the caller's profile and visibility (built on first use)."""
    state = info.context.state
    loader: UserDataByItemIdLoader | None = state.get(_LOADER_KEY)
    if loader is None:
        viewer = await require_viewer(info, "read")
        loader = state[_LOADER_KEY] = UserDataByItemIdLoader(
            info.context.pool, viewer.profile_id, visibility(info)
        )
    return loader


def _item_id(id: object) -> uuid.UUID | None:
    return _parse_item_id(str(id))


@functools.lru_cache(maxsize=16384)
def _parse_item_id(text: str) -> uuid.UUID | None:
    """Parsed once however many of a page's fields ask (the prefetch, the reference,
    ``userData``); bounded, so odd ids cost nothing lasting."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _loaded(info: Info, item_id: uuid.UUID) -> Peek:
    """The caller's watch state of the item when this request already loaded it."""
    loader: UserDataByItemIdLoader | None = info.context.state.get(_LOADER_KEY)
    return loader.peek(item_id) if loader is not None else MISSING


def _user_data(entry: ItemUserData | None) -> UserData | None:
    return UserData.from_row(entry.row) if entry is not None and entry.row is not None else None


@strawberry.federation.type(keys=["id"])
class MediaItem:
    id: strawberry.ID

    @classmethod
    async def prefetch_references(cls, info: Info, representations: list[dict[str, Any]]) -> None:
        """Load the watch state of a page's items in one statement before they resolve (the
        gateway calls this for a list whose items select a field of ours), so that
        ``resolve_reference`` and ``userData`` answer each item without awaiting."""
        if not info.context.principal.is_authenticated:
            return
        ids = [item_id for r in representations if (item_id := _item_id(r.get("id")))]
        await (await user_data_loader(info)).load_many(ids)

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Any:
        """The item when the caller may see it (the catalog's visibility), else null: a
        router's ``_entities`` call answers a hidden item as an unknown one. For a signed-in
        caller the check is the user-data loader's, so ``userData`` costs no second statement;
        a prefetched item answers at once, any other is awaited."""
        item_id = _item_id(id)
        if item_id is None:
            return None
        if info.context.principal.is_authenticated:
            loaded = _loaded(info, item_id)
            if loaded.found:
                return cls(id=strawberry.ID(str(item_id))) if loaded.value is not None else None
        return cls._resolve_reference(info, item_id)

    @classmethod
    async def _resolve_reference(cls, info: Info, item_id: uuid.UUID) -> MediaItem | None:
        if info.context.principal.is_authenticated:
            visible: object = await (await user_data_loader(info)).load(item_id)
        else:
            visible = await info.context.loaders.catalog.media_item_by_id.load(item_id)
        return cls(id=strawberry.ID(str(item_id))) if visible is not None else None

    @strawberry.field
    def user_data(self, info: Info) -> UserData | None:
        # Synchronous when the page was prefetched (the common case), else an awaitable.
        if not info.context.principal.is_authenticated:
            return None
        item_id = _item_id(self.id)
        if item_id is None:
            return None
        loaded = _loaded(info, item_id)
        if loaded.found:
            return _user_data(loaded.value)
        return self._user_data_later(info, item_id)  # type: ignore[return-value]

    async def _user_data_later(self, info: Info, item_id: uuid.UUID) -> UserData | None:
        return _user_data(await (await user_data_loader(info)).load(item_id))


@strawberry.type
class PlaybackDecision:
    method: PlaybackMethod
    reasons: list[str]
    encoder: str | None = strawberry.field(
        description=(
            "The software encoder of a transcode's video codec (libx264, libx265); the worker"
            " that encodes may use a hardware encoder it found working, which TranscodeProgress"
            " names. Null when nothing is transcoded."
        )
    )
    target_container: str | None = strawberry.field(
        description="The container the client receives: the file's own for direct play, mp4 "
        "for a remux, mpegts for an HLS session (its segments)."
    )
    transcode_video: bool
    transcode_audio: bool
    audio_stream: int | None = strawberry.field(description="The audio stream index played.")
    subtitle_stream: int | None
    subtitle_delivery: SubtitleDelivery


@strawberry.type(description="A subtitle stream of the played file.")
class SubtitleTrack:
    index: int
    codec: str | None
    language: str | None
    title: str | None
    is_default: bool
    is_forced: bool
    is_hearing_impaired: bool
    is_external: bool
    is_text: bool
    webvtt_url: str | None = strawberry.field(
        description="The track as WebVTT (text tracks only), signed like the stream URL."
    )
    url: str | None = strawberry.field(
        description="An external subtitle file as it is on disk (external tracks only)."
    )


@strawberry.type
class PlaybackSession:
    id: strawberry.ID
    file_id: strawberry.ID
    stream_url: str
    decision: PlaybackDecision
    position_ms: int
    expires_at: datetime.datetime
    heartbeat_interval_ms: int = strawberry.field(
        description="Report progress at least this often, or the session's lease lapses."
    )
    subtitles: list[SubtitleTrack]
    trickplay_url: str | None = strawberry.field(
        description="Seek thumbnails: a WebVTT index of sprite-sheet tiles, signed like the "
        "stream; null until the background job has made them."
    )


@strawberry.type(description="A session that plays now (its lease is valid).")
class ActivePlaybackSession:
    id: strawberry.ID
    user_id: strawberry.ID
    profile_id: strawberry.ID
    item: MediaItem | None = strawberry.field(
        description="The item played; null when the caller may not see it (any more)."
    )
    file_id: strawberry.ID
    method: PlaybackMethod
    position_ms: int
    is_paused: bool
    buffered_ms: int | None
    device_id: str | None
    device_profile_name: str | None
    last_heartbeat_at: datetime.datetime
    started_at: datetime.datetime

    @classmethod
    def from_row(cls, row: Any) -> ActivePlaybackSession:
        return cls(
            id=strawberry.ID(str(row["id"])),
            user_id=strawberry.ID(str(row["user_id"])),
            profile_id=strawberry.ID(str(row["profile_id"])),
            item=MediaItem(id=strawberry.ID(str(row["item_id"]))) if row["item_visible"] else None,
            file_id=strawberry.ID(str(row["file_id"])),
            method=PlaybackMethod(row["method"]),
            position_ms=row["position_ms"],
            is_paused=row["is_paused"],
            buffered_ms=row["buffered_ms"],
            device_id=row["device_id"],
            device_profile_name=row["device_profile_name"],
            last_heartbeat_at=row["last_heartbeat_at"],
            started_at=row["created_at"],
        )


@strawberry.type
class VideoCodecSupport:
    codec: str
    profiles: list[str] | None
    max_level: float | None
    max_bit_depth: int | None
    hdr_types: list[str]
    max_width: int | None
    max_height: int | None
    max_frame_rate: float | None


@strawberry.type
class AudioCodecSupport:
    codec: str
    max_channels: int | None


@strawberry.type(description="What a device plays natively.")
class DeviceProfile:
    name: str
    containers: list[str]
    video_codecs: list[VideoCodecSupport]
    audio_codecs: list[AudioCodecSupport]
    text_subtitles: list[str]
    image_subtitles: list[str]
    max_bitrate: int | None
    hls_fmp4: bool
    hls_mpegts: bool

    @classmethod
    def from_profile(cls, profile: media_playback.DeviceProfile) -> DeviceProfile:
        return cls(
            name=profile.name,
            containers=sorted(profile.containers),
            video_codecs=[
                VideoCodecSupport(
                    codec=v.codec,
                    profiles=sorted(v.profiles) if v.profiles is not None else None,
                    max_level=v.max_level,
                    max_bit_depth=v.max_bit_depth,
                    hdr_types=sorted(v.hdr_types),
                    max_width=v.max_width,
                    max_height=v.max_height,
                    max_frame_rate=v.max_frame_rate,
                )
                for v in profile.video_codecs
            ],
            audio_codecs=[
                AudioCodecSupport(codec=a.codec, max_channels=a.max_channels)
                for a in profile.audio_codecs
            ],
            text_subtitles=sorted(profile.text_subtitles),
            image_subtitles=sorted(profile.image_subtitles),
            max_bitrate=profile.max_bitrate,
            hls_fmp4=profile.hls_fmp4,
            hls_mpegts=profile.hls_mpegts,
        )


@strawberry.type(description="A device profile stored for one of the caller's devices.")
class StoredDeviceProfile:
    device_id: str
    profile: DeviceProfile
    updated_at: datetime.datetime


@strawberry.type
class DeleteDeviceProfilePayload:
    device_id: str
    deleted: bool


@strawberry.type
class PlaybackProgress:
    session_id: strawberry.ID
    resume_position_ms: int = strawberry.field(
        description="The stored resume position (0: not resumable, start over)."
    )
    is_played: bool
    is_paused: bool


@strawberry.type
class StopPlaybackPayload:
    session_id: strawberry.ID


@strawberry.enum
class TranscodeStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


@strawberry.type(description="Where one variant's encoder stands.")
class TranscodeProgress:
    session_id: strawberry.ID
    variant: str
    status: TranscodeStatus
    segment: int
    segments_ready: int
    segment_count: int
    frames: int
    speed: float | None
    encoder: str
    failure_code: str | None
    failure_message: str | None

    @classmethod
    def from_event(cls, event: Any) -> TranscodeProgress:
        return cls(
            session_id=strawberry.ID(event["sessionId"]),
            variant=event["variant"],
            status=TranscodeStatus(event["status"]),
            segment=event["segment"] or 0,
            segments_ready=event["segmentsReady"],
            segment_count=event["segmentCount"],
            frames=event["frames"],
            speed=event["speed"],
            encoder=event["encoder"],
            failure_code=event.get("failureCode"),
            failure_message=event.get("failureMessage"),
        )
