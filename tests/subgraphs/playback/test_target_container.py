"""PlaybackDecision.targetContainer is the container the client receives: the file's own for
direct play, mp4 for a remux, and MPEG-TS for every HLS session, whose segments are MPEG-TS
whatever HLS flavour the device would also take (chromium's profile takes fMP4 too)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from loaders.context import Context
from media.hls.encoders import EncoderChoice
from media.playback import builtin_profile
from resolvers.playback.hls_sessions import Transcoding
from tests.subgraphs.playback.conftest import Execute, add_file, add_item, add_library

START = """
mutation($item: ID!, $profile: String) {
  startPlayback(itemId: $item, deviceProfileName: $profile) {
    __typename
    ... on PlaybackSession { streamUrl decision { method targetContainer } }
    ... on PlaybackError { code message }
  }
}"""


def transcoding(deferred: list[Any]) -> Transcoding:
    """A transcoder that hands its runs to ``deferred`` instead of the job queue."""

    async def defer(session_id: uuid.UUID, variant: str, run_id: uuid.UUID) -> None:
        deferred.append((session_id, variant, run_id))

    return Transcoding(encoder=EncoderChoice("libx264", "software"), defer=defer)


@pytest.mark.parametrize(
    ("container", "video", "method", "url", "target"),
    [
        ("mp4", "h264", "DIRECT_PLAY", "/stream/", "mp4"),
        ("matroska", "h264", "REMUX", "/remux/", "mp4"),
        ("avi", "mpeg4", "TRANSCODE", "/hls/", "mpegts"),
    ],
)
async def test_the_target_container_is_what_the_client_receives(
    pool: asyncpg.Pool,
    execute: Execute,
    context: Callable[..., Context],
    container: str,
    video: str,
    method: str,
    url: str,
    target: str,
) -> None:
    assert builtin_profile("chromium").hls_fmp4  # the profile would take fMP4 segments
    item_id = await add_item(pool, await add_library(pool), "Film")
    await add_file(pool, item_id, container=container, video=video)
    deferred: list[Any] = []
    built = context()
    built.services["transcoding"] = transcoding(deferred)

    result = await execute(START, context_value=built, item=str(item_id), profile="chromium")

    assert result.errors is None, result.errors
    started = result.data["startPlayback"]
    assert started["__typename"] == "PlaybackSession", started
    assert started["decision"] == {"method": method, "targetContainer": target}
    assert started["streamUrl"].startswith(url)
    assert len(deferred) == (1 if method == "TRANSCODE" else 0)
