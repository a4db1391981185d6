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


SAVE = """
mutation($device: String!, $profile: DeviceProfileInput!) {
  saveDeviceProfile(deviceId: $device, profile: $profile) {
    __typename
    ... on StoredDeviceProfile {
      deviceId profile { name containers videoCodecs { codec maxLevel } audioCodecs { codec } }
    }
    ... on PlaybackError { code message }
  }
}"""

START_ON_DEVICE = """
mutation($item: ID!, $device: String, $name: String) {
  startPlayback(itemId: $item, deviceId: $device, deviceProfileName: $name) {
    __typename
    ... on PlaybackSession { id decision { method reasons } }
    ... on PlaybackError { code message }
  }
}"""

MKV_ONLY = {
    "name": "Living room TV",
    "containers": ["mkv"],
    "videoCodecs": [{"codec": "h264"}],
    "audioCodecs": [{"codec": "aac"}],
}


async def test_a_stored_device_profile_decides_for_its_device(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id = await _movie(pool)  # an MP4 file

    saved = await execute(SAVE, device="tv-1", profile=MKV_ONLY)
    on_tv = await execute(START_ON_DEVICE, item=str(item_id), device="tv-1")
    named = await execute(START_ON_DEVICE, item=str(item_id), device="tv-1", name="chromium")
    listed = await execute("{ deviceProfiles { deviceId profile { name } } }")

    assert saved.data["saveDeviceProfile"] == {
        "__typename": "StoredDeviceProfile",
        "deviceId": "tv-1",
        "profile": {
            "name": "Living room TV",
            "containers": ["mkv"],
            "videoCodecs": [{"codec": "h264", "maxLevel": None}],
            "audioCodecs": [{"codec": "aac"}],
        },
    }
    # The TV reads Matroska only: remuxing into Matroska waits for the transcoding pipeline.
    assert on_tv.data["startPlayback"]["code"] == "TRANSCODING_UNAVAILABLE"
    assert "REMUX is needed (CONTAINER_UNSUPPORTED)" in on_tv.data["startPlayback"]["message"]
    # A named profile wins over the stored one.
    assert named.data["startPlayback"]["decision"] == {"method": "DIRECT_PLAY", "reasons": []}
    assert listed.data["deviceProfiles"] == [
        {"deviceId": "tv-1", "profile": {"name": "Living room TV"}}
    ]
    stored_name = await pool.fetchval("SELECT profile->>'name' FROM device_profiles")
    assert stored_name == "Living room TV"


async def test_saving_again_replaces_and_delete_forgets(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    await execute(SAVE, device="tv-1", profile=MKV_ONLY)

    replaced = await execute(SAVE, device="tv-1", profile={**MKV_ONLY, "name": "Bedroom"})
    deleted = await execute(
        'mutation { deleteDeviceProfile(deviceId: "tv-1") { deviceId deleted } }'
    )
    again = await execute('mutation { deleteDeviceProfile(deviceId: "tv-1") { deleted } }')

    assert replaced.data["saveDeviceProfile"]["profile"]["name"] == "Bedroom"
    assert deleted.data["deleteDeviceProfile"] == {"deviceId": "tv-1", "deleted": True}
    assert again.data["deleteDeviceProfile"] == {"deleted": False}
    assert await pool.fetchval("SELECT count(*) FROM device_profiles") == 0


async def test_bad_device_profiles_and_ids_are_refused(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    bad_level = {**MKV_ONLY, "videoCodecs": [{"codec": "h264", "maxLevel": -1}]}

    invalid = await execute(SAVE, device="tv-1", profile=bad_level)
    blank = await execute(SAVE, device="  ", profile=MKV_ONLY)
    huge = await execute(SAVE, device="x" * 201, profile=MKV_ONLY)

    assert invalid.data["saveDeviceProfile"]["code"] == "INVALID_PROFILE"
    assert "video_codecs[0].max_level" in invalid.data["saveDeviceProfile"]["message"]
    assert [e.extensions["code"] for e in blank.errors] == ["BAD_USER_INPUT"]
    assert [e.extensions["code"] for e in huge.errors] == ["BAD_USER_INPUT"]
    assert await pool.fetchval("SELECT count(*) FROM device_profiles") == 0


async def test_builtin_profiles_are_listed(execute: Execute) -> None:
    result = await execute("{ builtinDeviceProfiles { name containers } }")

    names = [profile["name"] for profile in result.data["builtinDeviceProfiles"]]
    assert {"chromium", "firefox", "safari", "android", "kodi"} <= set(names)
