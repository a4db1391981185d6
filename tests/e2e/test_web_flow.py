"""The web app in a real browser against the real server.

Debian's Chromium, driven by playwright-core (``web-flow.mjs``), goes through what a new
household does: the setup wizard (first administrator, first library, live scan progress to
done), home, the library grid with search-as-you-type, a movie's page, playing it (the
video's clock advances), stopping, reopening it to a resume prompt at the saved position, and
playing an MPEG-4 Part 2 AVI that the server converts to HLS, which the app plays through hls.js,
a watch party, webhooks, a series (season tabs, episodes in aired order, a played mark that
survives a reload, the series' play button going where ``resume`` says), the next-episode
countdown near the end of S01E01 ("Play now" opens S01E02's player), an album (tracks in tag
order, played through in order by "Play album"), a second account signing in with a TOTP code
(a wrong one first) and picking its PIN-protected second profile (a wrong PIN first).
A screenshot of each step lands in the test's tmp dir and in ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.spa_routes import DEFAULT_BUILD_DIR, spa_routes
from tests.gateway.test_app import REVENGE_ENV_CLEAN, running_app
from tests.support.media_files import make_audio, make_image, make_video

E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = E2E_DIR / "artifacts"
CHROMIUM = os.environ.get("REVENGE_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if not (DEFAULT_BUILD_DIR / "index.html").is_file():
        return "the web app is not built (./dev test builds it)"
    if not (E2E_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/e2e has no node_modules (./dev test installs them)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    return None


def movie_library(root: Path) -> Path:
    night = root / "Night Train (2019)"
    night.mkdir(parents=True)
    make_video(night / "Night Train (2019).mp4", seconds=20, width=480, height=270)
    make_image(night / "poster.jpg", 200, 300, (48, 60, 140))
    make_image(night / "fanart.jpg", 480, 270, (30, 20, 60))
    make_video(root / "Inception (2010).mp4", seconds=2)
    make_video(root / "Heat (1995).mkv", seconds=1)
    make_video(
        root / "Old Times (2001).avi", seconds=12, width=320, height=240, codec="mpeg4", audio="mp3"
    )
    return root


def show_library(root: Path) -> Path:
    """One series, two seasons; episode titles whose alphabetical order is not the aired one."""
    show = root / "Harbor Lights"
    first, second = show / "Season 01", show / "Season 02"
    first.mkdir(parents=True)
    second.mkdir()
    # The first two are long enough to seek near the end of one and watch the next one play.
    for folder, name, seconds in (
        (first, "Harbor Lights S01E01 - Arrival.mkv", 20),
        (first, "Harbor Lights S01E02 - The Storm.mkv", 20),
        (first, "Harbor Lights S01E03 - Low Tide.mkv", 1),
        (second, "Harbor Lights S02E01 - Return.mkv", 1),
    ):
        make_video(folder / name, seconds=seconds, width=160, height=120)
    return root


def music_library(root: Path) -> Path:
    """One tagged album whose file names sort opposite to the track numbers."""
    album = root / "Dawn Chorus" / "Sunrise Sessions (2021)"
    album.mkdir(parents=True)
    for number, title in enumerate(("Wake Up", "Morning Light", "Coffee"), start=1):
        make_audio(
            album / f"{title}.mp3",
            seconds=1,
            tags={
                "artist": "Dawn Chorus",
                "albumartist": "Dawn Chorus",
                "album": "Sunrise Sessions",
                "title": title,
                "tracknumber": f"{number}/3",
                "date": "2021",
            },
        )
    return root


def steps(stdout: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            found[record["step"]] = record
    return found


def seconds_of(clock: str) -> int:
    match = re.search(r"(\d+):(\d{2})", clock)
    assert match, clock
    return int(match.group(1)) * 60 + int(match.group(2))


async def test_setup_scan_browse_play_stop_and_resume(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    missing = _missing()
    if missing:
        if os.environ.get("REVENGE_E2E_REQUIRED") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    media = movie_library(tmp_path / "movies")
    shows = show_library(tmp_path / "shows")
    music = music_library(tmp_path / "music")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with running_app(
        database_url,
        tmp_path / "data",
        REVENGE_PLAYBACK_PLAYED_REMAINING_SECONDS="0",
        REVENGE_PLAYBACK_HEARTBEAT_FLUSH_SECONDS="1",
    ) as running:
        if not any(getattr(route, "name", None) == "spa" for route in running.app.routes):
            running.app.router.routes.extend(spa_routes())
        process = await asyncio.create_subprocess_exec(
            "node",
            "web-flow.mjs",
            running.url,
            str(media),
            str(shots),
            str(shows),
            str(music),
            cwd=E2E_DIR,
            env={**REVENGE_ENV_CLEAN(), "CHROMIUM": CHROMIUM},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 300)

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    for shot in shots.glob("*.png"):
        shutil.copy(shot, ARTIFACTS / shot.name)
    assert process.returncode == 0, stderr.decode() + stdout.decode()

    done = steps(stdout.decode())
    assert "Scan complete" in done["scan"]["scanText"]
    assert sorted(done["library-grid"]["titles"]) == [
        "Heat",
        "Inception",
        "Night Train",
        "Old Times",
    ]
    assert done["library-grid"]["filtered"] == ["Night Train"]
    assert done["play"]["method"] in ("DIRECT_PLAY", "REMUX", "TRANSCODE")
    assert done["play"]["playedTo"] > 3
    saved = seconds_of(done["resume"]["resumeLabel"])
    assert saved >= 3
    assert done["resume"]["resumedAt"] >= saved - 1
    hls = done["hls"]
    assert (hls["method"], hls["engine"]) == ("TRANSCODE", "hls.js"), hls
    assert hls["playedTo"] > 3 and hls["decoded"] > 0 and hls["mediaError"] is None, hls
    assert "200 master.m3u8" in hls["requests"], hls["requests"]
    assert any(re.fullmatch(r"200 \w+/seg_\d{5}\.ts", r) for r in hls["requests"]), hls["requests"]
    party = done["party"]
    assert party["guestMayPlay"] is False, party
    assert party["guestAt"] > 2 and party["guestState"] == "PLAYING", party
    # Paused together: both players hold the party's position, well within a second.
    assert abs(party["pausedHost"] - party["pausedGuest"]) < 0.5, party
    assert party["hostSees"] == ["You", "guest"], party  # the guest's profile, named after them
    assert party["guestSees"] == [party["hostName"], "You"], party
    assert party["chatAuthors"] == ["guest", "You"], party
    webhooks = done["webhooks"]
    assert webhooks["secretPrefix"] == "whsec_" and webhooks["deliveries"] >= 1, webhooks
    assert webhooks["testResult"].startswith("Test: "), webhooks
    series = done["series"]
    assert series["seasons"] == ["Season 1", "Season 2"], series
    assert series["episodes"] == [
        "Episode 1: Arrival",
        "Episode 2: The Storm",
        "Episode 3: Low Tide",
    ], series
    assert series["secondSeason"] == ["Episode 1: Return"], series
    assert series["secondSelected"] == "true", series
    assert "Season 1, episode 2" in series["episodeMeta"], series
    assert series["afterReload"] == [
        "Episode 1: Arrival",
        "Episode 2: The Storm, played",
        "Episode 3: Low Tide",
    ], series
    assert series["playedBadges"] == 1, series
    point = series["resumePoint"]
    assert series["playSeriesHref"] == f"/play?id={point['item']['id']}", series
    verb = "Resume" if point["positionMs"] > 0 else "Play"
    assert re.fullmatch(
        rf"{verb} S01E0\d · {re.escape(point['item']['title'])}", series["playSeriesLabel"]
    ), series
    up_next = done["up-next"]
    assert up_next["shownEarly"] is False, up_next
    assert up_next["endMs"] >= 19_000, up_next
    assert re.fullmatch(
        r"Next episode: S01E02 · The Storm — starting in \d+ s", up_next["upNextText"]
    ), up_next
    assert up_next["upNextFocused"] == "Play now", up_next
    assert up_next["nextId"] and up_next["nextId"] not in up_next["firstUrl"], up_next
    assert up_next["nextTitle"] == "Harbor Lights · S1E2 · The Storm", up_next
    assert up_next["nextVideoLabel"] == "Video: The Storm", up_next
    assert up_next["nextPlayedTo"] > 1.5 and up_next["overlayAfter"] == 0, up_next
    album = done["album"]
    assert album["tracks"] == ["Wake Up", "Morning Light", "Coffee"], album
    assert album["trackNumbers"] == ["1", "2", "3"], album
    assert album["albumArtist"] == "Dawn Chorus", album
    assert album["firstTrackHref"] == album["trackHrefs"][0], album
    # Played through, in track order, each once, and nothing after the last.
    assert ["/play" + search for search in album["playedTracks"]] == album["trackHrefs"], album
    assert album["lastTitle"].endswith("Coffee"), album
    totp = done["totp"]
    assert totp["enrolled"] == "ConfirmTotpEnrollmentPayload" and totp["otpauth"], totp
    assert totp["recoveryCodes"] == 10, totp
    assert totp["profile"]["hasPin"] is True, totp
    assert "code" in totp["wrongCodeError"].lower(), totp
    assert "password" not in totp["wrongCodeError"].lower(), totp
    profiles = done["profiles"]
    assert profiles["choices"] == ["sam", "Robin, PIN protected"], profiles
    assert "PIN" in profiles["wrongPinError"], profiles
    assert profiles["avatarLabel"] == "Profile: Robin. Switch profile", profiles
    assert profiles["avatarText"] == "R", profiles
    print(json.dumps({"hls": hls, "party": party, "webhooks": webhooks}))
    print(json.dumps({"up-next": up_next}, ensure_ascii=False))
    print(json.dumps({"series": series, "album": album, "totp": totp, "profiles": profiles}))
    print(json.dumps(done["phone"]))
    assert done["phone"]["failedResponses"] == []
    assert done["phone"]["consoleErrors"] == []
