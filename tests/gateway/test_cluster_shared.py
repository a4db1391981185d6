"""What the processes of one `revenge serve` must count or do together, on a real two-process
server, once with the embedded PostgreSQL bus and once with Redis: a webhook event is delivered
once (every process's dispatcher hears it), sign-in failures landing on either process lock the
account after five, a user's WebSocket places are one count across the processes, and a
transcode run by one process plays through both."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import httpx
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.test_cli import cli_admin_key
from tests.gateway.test_cluster import kill, start_cluster
from tests.support.media_files import make_video
from tests.support.webhook_receiver import receiver

PASSWORD = "a long enough password"
# Each request on a new connection: the kernel spreads connections, not requests, over the
# processes.
CREATE_USER = (
    "mutation($name: String!, $password: String!) { createUser(input: "
    "{name: $name, password: $password, roles: [USER]}) "
    "{ ... on CreateUserPayload { user { id } } } }"
)
SIGN_IN = (
    "mutation($name: String!, $password: String!) { signIn(name: $name, password: $password)"
    " { __typename ... on SignInPayload { accessToken } ... on AuthError { code } } }"
)
CREATE_WEBHOOK = (
    "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { __typename "
    "... on WebhookSecretPayload { webhook { id } } ... on WebhookError { code message } } }"
)


def private_redis(url: str) -> str:
    """The test Redis with a database of this file's own, emptied: lockouts of 127.0.0.1 must
    not reach other tests sharing the server."""
    parts = urlsplit(url)
    own = urlunsplit(parts._replace(path="/13"))
    redis.Redis.from_url(own).flushdb()
    return own


@pytest.fixture(params=["postgres", "redis"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    extra = {}
    if request.param == "redis":
        extra["REVENGE_CACHE_URL"] = private_redis(request.getfixturevalue("redis_url"))
    process, url, env = start_cluster(
        tmp_path, REVENGE_GRAPHQL_WS_MAX_CONNECTIONS_PER_USER="3", **extra
    )
    try:
        yield url, env
    finally:
        kill(process)
        if "REVENGE_CACHE_URL" in extra:
            redis.Redis.from_url(extra["REVENGE_CACHE_URL"]).flushdb()


async def call(url: str, query: str, key: str | None = None, **variables: object) -> dict:
    headers = {"x-api-key": key} if key else {}
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            url + "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body: dict = answer.json()
    return body


async def test_a_webhook_event_is_delivered_once_however_many_processes_hear_it(
    cluster: tuple[str, dict[str, str]],
) -> None:
    url, env = cluster
    key = cli_admin_key(env)
    async with receiver() as hooks:
        made = await call(
            url,
            CREATE_WEBHOOK,
            key,
            input={"name": "ha", "url": hooks.url("/ha"), "eventTypes": ["user.created"]},
        )
        assert made["data"]["createWebhook"]["__typename"] == "WebhookSecretPayload", made
        users = []
        for number in range(8):
            body = await call(url, CREATE_USER, key, name=f"member{number}", password=PASSWORD)
            users.append(body["data"]["createUser"]["user"]["id"])
        await hooks.wait_for("/ha", len(users), seconds=30)
        await asyncio.sleep(3)  # time for a second delivery of any of them to arrive
        delivered = hooks.at("/ha")

    events = [json.loads(request.body) for request in delivered]
    assert sorted(event["data"]["user"]["id"] for event in events) == sorted(users)
    assert len({request.headers["webhook-id"] for request in delivered}) == len(users)


async def test_sign_in_failures_on_any_process_lock_the_account_after_five(
    cluster: tuple[str, dict[str, str]],
) -> None:
    url, env = cluster
    key = cli_admin_key(env)
    await call(url, CREATE_USER, key, name="dora", password=PASSWORD)

    failures = [
        (await call(url, SIGN_IN, name="dora", password="not the password"))["data"]["signIn"]
        for _ in range(5)
    ]
    # The right password now: still refused, the lockout counted on both processes together.
    locked = [
        (await call(url, SIGN_IN, name="dora", password=PASSWORD))["data"]["signIn"]
        for _ in range(6)
    ]

    assert [failure["code"] for failure in failures] == ["INVALID_CREDENTIALS"] * 5
    assert [answer.get("code") for answer in locked] == ["RATE_LIMITED"] * 6


async def _init(url: str, key: str) -> tuple[ClientConnection, int | None]:
    """A socket after connection_init: its close code when refused, None when acknowledged."""
    socket = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5)
    await socket.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
    try:
        answer = json.loads(await asyncio.wait_for(socket.recv(), 5))
    except ConnectionClosed as closed:
        return socket, closed.rcvd.code if closed.rcvd else None
    assert answer == {"type": "connection_ack"}
    return socket, None


async def test_a_users_websocket_places_are_one_count_across_the_processes(
    cluster: tuple[str, dict[str, str]],
) -> None:
    url, env = cluster
    key = cli_admin_key(env)
    ws_url = url.replace("http://", "ws://") + "/graphql"

    held = []
    for _ in range(3):
        socket, refused = await _init(ws_url, key)
        assert refused is None
        held.append(socket)
    # Ten more tries on new connections, so both processes are asked: each is refused.
    refusals = []
    for _ in range(10):
        socket, refused = await _init(ws_url, key)
        refusals.append(refused)
        await socket.close()
    await held.pop().close()
    for _ in range(100):  # the place comes back when the closed socket's loop has ended
        socket, refused = await _init(ws_url, key)
        if refused is None:
            break
        await socket.close()
        await asyncio.sleep(0.05)
    held.append(socket)
    for socket in held:
        await socket.close()

    assert refusals == [4429] * 10
    assert refused is None


CREATE_LIBRARY = (
    "mutation ($i: CreateLibraryInput!) { createLibrary(input: $i) "
    "{ ... on CreateLibraryPayload { library { id } } } }"
)
START_PLAYBACK = (
    'mutation ($id: ID!) { startPlayback(itemId: $id, deviceProfileName: "chromium") { '
    "__typename ... on PlaybackSession { streamUrl decision { method } } "
    "... on PlaybackError { code message } } }"
)


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return sum(1 for _ in container.decode(video=0))


def _first_frames(url: str) -> int:
    """PyAV's HLS demuxer over the master playlist's URL."""
    with av.open(url, timeout=30) as container:
        return sum(1 for _, _ in zip(range(10), container.decode(video=0), strict=False))


async def test_a_transcode_plays_through_every_process(
    cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Only the process holding the job lock transcodes; the other serves its playlists and
    segments all the same (fetched from the leader's private port)."""
    url, env = cluster
    key = cli_admin_key(env)
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Old Times (2001).avi", seconds=8, codec="mpeg4", audio="mp3")
    made = await call(
        url, CREATE_LIBRARY, key, i={"name": "Films", "kind": "MOVIES", "rootPaths": [str(movies)]}
    )
    library = made["data"]["createLibrary"]["library"]["id"]
    await call(url, "mutation ($id: ID!) { scanLibrary(id: $id) { __typename } }", key, id=library)
    async with asyncio.timeout(60):
        while True:  # the leader's job worker runs the scan
            scans = await call(url, "{ libraries { latestScan { done } } }", key)
            if scans["data"]["libraries"][0]["latestScan"]["done"]:
                break
            await asyncio.sleep(0.2)
    items = await call(url, "{ items(kinds: [MOVIE]) { nodes { id } } }", key)
    [item] = items["data"]["items"]["nodes"]
    session = (await call(url, START_PLAYBACK, key, id=item["id"]))["data"]["startPlayback"]
    assert session["__typename"] == "PlaybackSession", session
    assert session["decision"]["method"] == "TRANSCODE"

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:  # a new connection
            return await client.get(path)

    base = session["streamUrl"].rsplit("/", 1)[0]
    master = (await get(session["streamUrl"])).text
    [variant] = [line for line in master.splitlines() if line and not line.startswith("#")]
    playlists = [(await get(f"{base}/{variant}")).text for _ in range(6)]
    assert len(set(playlists)) == 1 and playlists[0].rstrip().endswith("#EXT-X-ENDLIST")
    uris = [line for line in playlists[0].splitlines() if line and not line.startswith("#")]
    folder = f"{base}/{variant.split('/')[0]}"
    frames = []
    for uri in uris * 3:  # every segment three times, over new connections
        response = await get(f"{folder}/{uri}")
        assert response.status_code == 200, response.text
        frames.append(await asyncio.to_thread(_frames, response.content))

    assert all(count > 0 for count in frames)
    assert frames[: len(uris)] == frames[len(uris) : 2 * len(uris)]  # the same segments each time
    assert await asyncio.to_thread(_first_frames, url + session["streamUrl"]) == 10
