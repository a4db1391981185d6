"""An HLS session belongs to the profile that started it: credentials of another profile of the
same account (a token from switchProfile) get its playlists and segments as an unknown
session's, while the starting profile's token and the session's signed URLs play on."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from tests.gateway.test_app import Running
from tests.gateway.test_hls import START, _lines
from tests.gateway.test_playback import asker, scanned_viewer
from tests.support.media_files import make_video

HIDDEN = {"code": "NOT_FOUND", "message": "no such transcode session"}
SWITCH = """
mutation($profileId: ID!) {
  switchProfile(profileId: $profileId) {
    __typename
    ... on SwitchProfilePayload { accessToken }
    ... on AuthError { code message }
  }
}"""


async def test_another_profile_of_the_account_cannot_fetch_the_session(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Night Shift (2005).avi", seconds=6, width=320, height=240, codec="mpeg4")
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        parent = await scanned_viewer(client, pool, movies)
        other_profile = await pool.fetchval(
            "INSERT INTO profiles (user_id, name) SELECT id, 'Teen' FROM users "
            "WHERE name = 'viewer' RETURNING id"
        )
        ask = asker(client, parent)
        switched = await ask(SWITCH, {"profileId": str(other_profile)})
        other = {"authorization": f"Bearer {switched['switchProfile']['accessToken']}"}
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
        session = (await ask(START, {"id": item["id"]}))["startPlayback"]
        assert session["decision"]["method"] == "TRANSCODE", session
        master_url = session["streamUrl"]
        base = master_url.rsplit("/", 1)[0]
        variant = _lines((await client.get(master_url)).text)[0]
        name = variant.split("/")[0]
        bare = [f"{base}/master.m3u8", f"{base}/{name}/index.m3u8", f"{base}/{name}/seg_00000.ts"]

        by_other = [await client.get(url, headers=other) for url in bare]
        by_parent = [await client.get(url, headers=parent) for url in bare[:2]]
        signed = await client.get(master_url, headers=other)  # the URL is the credential

    assert [r.status_code for r in by_other] == [404] * 3
    assert [r.json() for r in by_other] == [HIDDEN] * 3
    assert [r.status_code for r in by_parent] == [200, 200]
    assert signed.status_code == 200
