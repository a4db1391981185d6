"""startPlayback with a client-sent DeviceProfileInput and explicit stream choices."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.subgraphs.playback.conftest import Execute, add_file, add_item, add_library

START = """
mutation($item: ID!, $name: String, $profile: DeviceProfileInput, $audio: Int, $sub: Int) {
  startPlayback(
    itemId: $item, deviceProfileName: $name, deviceProfile: $profile,
    audioStream: $audio, subtitleStream: $sub
  ) {
    __typename
    ... on PlaybackSession { id streamUrl decision { method reasons } }
    ... on PlaybackError { code message }
  }
}"""

MP4_H264 = {
    "containers": ["mp4"],
    "videoCodecs": [{"codec": "h264", "profiles": ["high"], "maxLevel": 4.1, "maxBitDepth": 8}],
    "audioCodecs": [{"codec": "aac", "maxChannels": 2}],
}


async def _movie(pool: asyncpg.Pool) -> uuid.UUID:
    item_id = await add_item(pool, await add_library(pool), "Film")
    await add_file(pool, item_id)
    return item_id


async def _start(execute: Execute, item_id: uuid.UUID, **variables: Any) -> dict[str, Any]:
    result = await execute(START, item=str(item_id), **variables)
    assert result.errors is None
    started: dict[str, Any] = result.data["startPlayback"]
    return started


async def test_a_custom_profile_that_fits_plays_directly(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id = await _movie(pool)

    started = await _start(execute, item_id, profile=MP4_H264)

    assert started["__typename"] == "PlaybackSession"
    assert started["decision"] == {"method": "DIRECT_PLAY", "reasons": []}
    assert started["streamUrl"].startswith("/stream/")


async def test_a_custom_profile_wins_over_the_profile_name(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id = await _movie(pool)
    mkv_only = {**MP4_H264, "containers": ["mkv"], "name": "my box"}

    by_name = await _start(execute, item_id, name="chromium")
    both = await _start(execute, item_id, name="chromium", profile=mkv_only)
    with_unknown_name = await _start(execute, item_id, name="no such", profile=MP4_H264)

    assert by_name["__typename"] == "PlaybackSession"
    assert both["__typename"] == "PlaybackError"
    assert both["code"] == "TRANSCODING_UNAVAILABLE"
    assert "REMUX" in both["message"]
    assert with_unknown_name["__typename"] == "PlaybackSession"


async def test_an_invalid_custom_profile_is_an_invalid_profile_error(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id = await _movie(pool)
    cases = [
        {**MP4_H264, "videoCodecs": [{"codec": "h264", "maxBitDepth": 99}]},
        {**MP4_H264, "videoCodecs": [{"codec": "hevc", "hdrTypes": ["SMELLOVISION"]}]},
        {"containers": ["mp4"], "videoCodecs": [], "audioCodecs": []},
        {**MP4_H264, "containers": []},
        {**MP4_H264, "name": "  "},
    ]

    results = [await _start(execute, item_id, profile=profile) for profile in cases]
    count = await pool.fetchval("SELECT count(*) FROM playback_sessions")

    assert [r["code"] for r in results] == ["INVALID_PROFILE"] * len(cases)
    assert results[0]["message"] == "video_codecs[0].max_bit_depth: must be between 8 and 16"
    assert results[1]["message"].startswith("video_codecs[0].hdr_types: unknown SMELLOVISION")
    assert results[2]["message"].startswith("video_codecs: at least one")
    assert count == 0


async def test_stream_choices_reach_the_decision(pool: asyncpg.Pool, execute: Execute) -> None:
    item_id = await _movie(pool)

    chosen = await _start(execute, item_id, profile=MP4_H264, audio=1)
    not_audio = await _start(execute, item_id, profile=MP4_H264, audio=0)
    no_such_subtitle = await _start(execute, item_id, name="chromium", sub=7)

    assert chosen["decision"]["method"] == "DIRECT_PLAY"
    assert not_audio == {
        "__typename": "PlaybackError",
        "code": "INVALID_STREAM",
        "message": "audio_stream 0 is not an audio stream of this file",
    }
    assert no_such_subtitle["code"] == "INVALID_STREAM"
    assert "subtitle_stream 7" in no_such_subtitle["message"]
