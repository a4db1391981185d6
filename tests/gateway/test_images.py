"""``/images/{id}``: the poster of a title only for a principal who may see the title. GraphQL
hands out URLs signed for the caller's profile (``<img>`` tags send no credentials); the route
checks the signature, that the user and profile still exist, and the profile's visibility."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from infra.signing import StreamSigner
from tests.gateway.test_app import Running, gql
from tests.gateway.test_authorization import SIGN_IN, household
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_image
from tests.support.media_files import make_image

IMAGES = "query ($id: ID!) { item(id: $id) { images { url } } }"


@dataclass
class House:
    images: dict[str, uuid.UUID]
    posters: dict[str, bytes]
    admin: dict[str, str]
    kid: dict[str, str]
    stranger: dict[str, str]
    kid_user: str
    kid_profile: str
    items: dict[str, uuid.UUID]


async def _user(client: httpx.AsyncClient, admin: dict[str, str], name: str, role: str) -> None:
    created = await client.post(
        "/graphql",
        headers=admin,
        json={
            "query": f'mutation {{ createUser(input: {{name: "{name}", password: '
            f'"crayons-and-glue", roles: [{role}]}}) {{ __typename }} }}'
        },
    )
    assert created.json()["data"]["createUser"]["__typename"] == "CreateUserPayload"


async def _bearer(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    signed_in = await gql(client, SIGN_IN, {"name": name, "password": "crayons-and-glue"})
    return {"authorization": f"Bearer {signed_in['data']['signIn']['accessToken']}"}


@pytest.fixture
async def house(app: Running, pool: asyncpg.Pool, tmp_path: Path) -> House:
    """A family title and an adult one with posters; an admin, a kids profile (PG, granted
    the library) and a guest nobody granted anything."""
    items = await household(pool)
    images, posters = {}, {}
    for name, color in (("toy", "green"), ("alien", "black")):
        path = make_image(tmp_path / f"{name}.jpg", 40, 60, color)
        images[name] = await insert_image(pool, items[name], "poster", str(path))
        posters[name] = path.read_bytes()
    admin = {"x-api-key": await admin_api_key(pool, "parent")}
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        await _user(client, admin, "kid", "KIDS")
        await _user(client, admin, "stranger", "GUEST")
        row = await pool.fetchrow(
            "UPDATE profiles SET is_kids = true, max_rating = 'PG', allow_unrated = false "
            "FROM users WHERE users.id = profiles.user_id AND users.name = 'kid' "
            "RETURNING profiles.id, profiles.user_id"
        )
        async with pool.acquire() as conn:
            await app.app.state.services["authz"].casbin.add_grant(
                conn, f"profile:{row['id']}", str(items["library"])
            )
        kid = await _bearer(client, "kid")
        stranger = await _bearer(client, "stranger")
    return House(images, posters, admin, kid, stranger, str(row["user_id"]), str(row["id"]), items)


async def _url(client: httpx.AsyncClient, headers: dict[str, str], item: uuid.UUID) -> Any:
    answer = await client.post(
        "/graphql", headers=headers, json={"query": IMAGES, "variables": {"id": str(item)}}
    )
    found = answer.json()["data"]["item"]
    return None if found is None else found["images"][0]["url"]


def _signer(app: Running) -> StreamSigner:
    signer: StreamSigner = app.app.state.services["stream_signer"]
    return signer


async def test_the_owner_gets_the_poster_by_its_signed_url(app: Running, house: House) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        url = await _url(client, house.admin, house.items["alien"])
        asked_at = time.time()
        poster = await client.get(url)  # no credentials: the URL is the credential
        query = parse_qs(urlsplit(url).query)
        revalidated = await client.get(url, headers={"if-none-match": poster.headers["etag"]})
        head = await client.head(url)

    assert urlsplit(url).path == f"/images/{house.images['alien']}"
    assert sorted(query) == ["exp", "pid", "sig", "uid"]
    assert (poster.status_code, poster.content) == (200, house.posters["alien"])
    assert poster.headers["content-type"] == "image/jpeg"
    expires_at = int(query["exp"][0])
    assert expires_at % 3600 == 0
    assert 5 * 3600 <= expires_at - asked_at <= 6 * 3600
    cache, max_age = poster.headers["cache-control"].split(", max-age=")
    assert cache == "private"
    assert 0 < int(max_age) <= expires_at - asked_at + 1
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["etag"] == poster.headers["etag"]
    assert (head.status_code, head.headers["content-length"]) == (
        200,
        str(len(house.posters["alien"])),
    )


async def test_anonymous_and_strangers_are_refused(app: Running, house: House) -> None:
    image = house.images["toy"]
    signer = _signer(app)
    stranger_id = (await _me(app, house.stranger))["id"]
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        anonymous = await client.get(f"/images/{image}")
        by_token = await client.get(f"/images/{image}", headers=house.stranger)
        # The stranger's own signed URL: valid signature, nothing visible.
        query = signer.sign_image(image, stranger_id, None, int(time.time()) + 600)
        signed = await client.get(f"/images/{image}?{query}")
        stranger_url = await _url(client, house.stranger, house.items["toy"])

    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "UNAUTHENTICATED",
        "message": "sign in or use a signed image URL",
    }
    assert stranger_url is None  # GraphQL does not show the item either
    for refused in (by_token, signed):
        assert refused.status_code == 404
        assert refused.json() == {"code": "NOT_FOUND", "message": "image not found"}


async def test_a_kids_profile_never_gets_an_adult_poster(app: Running, house: House) -> None:
    signer = _signer(app)
    soon = int(time.time()) + 600
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        family_url = await _url(client, house.kid, house.items["toy"])
        family = await client.get(family_url)
        hidden_url = await _url(client, house.kid, house.items["alien"])
        by_token = await client.get(f"/images/{house.images['alien']}", headers=house.kid)
        query = signer.sign_image(house.images["alien"], house.kid_user, house.kid_profile, soon)
        signed = await client.get(f"/images/{house.images['alien']}?{query}")

    assert (family.status_code, family.content) == (200, house.posters["toy"])
    assert parse_qs(urlsplit(family_url).query)["pid"] == [house.kid_profile]
    assert hidden_url is None
    for refused in (by_token, signed):
        assert refused.status_code == 404
        assert refused.json()["code"] == "NOT_FOUND"


async def test_expired_tampered_and_borrowed_signatures_are_refused(
    app: Running, house: House, pool: asyncpg.Pool
) -> None:
    signer = _signer(app)
    image = house.images["toy"]
    now = int(time.time())
    admin_id = str(await pool.fetchval("SELECT id FROM users WHERE name = 'parent'"))
    good = signer.sign_image(image, house.kid_user, house.kid_profile, now + 600)
    params = dict(part.split("=", 1) for part in good.split("&"))
    other_image = signer.sign_image(house.images["alien"], admin_id, None, now + 600)
    sig = params["sig"]
    cases = {
        "expired": signer.sign_image(image, house.kid_user, house.kid_profile, now - 1),
        "tampered": good.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:]),
        "later expiry": good.replace(params["exp"], str(now + 100_000)),
        "profile dropped": good.replace(f"pid={params['pid']}&", ""),
        "another user": good.replace(house.kid_user, admin_id),
        "another image's": other_image,
        "malformed": "exp=soon&uid=me&sig=x",
    }
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        assert (await client.get(f"/images/{image}?{good}")).status_code == 200
        answers = {name: await client.get(f"/images/{image}?{q}") for name, q in cases.items()}
        await pool.execute("UPDATE users SET is_disabled = true WHERE id = $1", uuid.UUID(
            house.kid_user))  # fmt: skip
        disabled = await client.get(f"/images/{image}?{good}")

    for name, answer in answers.items():
        assert answer.status_code == 403, name
        assert answer.json() == {
            "code": "FORBIDDEN",
            "message": "Invalid or expired stream signature",
        }, name
    assert disabled.status_code == 403
    assert disabled.json()["message"] == "the user or profile of this image URL is disabled or gone"


async def _me(app: Running, headers: dict[str, str]) -> Any:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        answer = await client.post("/graphql", headers=headers, json={"query": "{ me { id } }"})
    return answer.json()["data"]["me"]
