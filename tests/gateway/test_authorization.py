"""Who sees what, through the whole gateway: sign-in, tokens, and a kids profile that never
sees an adult-rated item — not in lists, counts, search, children, lookups by id or parents."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from resolvers.catalog.scan_store import refresh_ratings
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import Running, gql
from tests.support.auth import admin_api_key


async def item(
    pool: asyncpg.Pool, library_id: uuid.UUID, kind: str, title: str, **values: Any
) -> uuid.UUID:
    columns = ["library_id", "kind", "title", "sort_title", *values]
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    item_id: uuid.UUID = await pool.fetchval(
        f"INSERT INTO media_items ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        library_id, kind, title, title.lower(), *values.values(),
    )  # fmt: skip
    return item_id


async def household(pool: asyncpg.Pool) -> dict[str, uuid.UUID]:
    """A library with family and adult titles (ranks as the scanner stores them)."""
    library = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('Everything', 'movies', "
        "ARRAY['/srv']) RETURNING id"
    )
    ids = {"library": library}
    ids["toy"] = await item(pool, library, "movie", "Toy Story", official_rating="G",
                            rating_rank=0)  # fmt: skip
    ids["alien"] = await item(pool, library, "movie", "Alien", official_rating="R",
                              rating_rank=17)  # fmt: skip
    ids["doc"] = await item(pool, library, "movie", "Unrated Alien Documentary")
    ids["bluey"] = await item(pool, library, "series", "Bluey", official_rating="TV-Y",
                              rating_rank=0)  # fmt: skip
    ids["bluey_1"] = await item(pool, library, "episode", "Magic Xylophone",
                                parent_id=ids["bluey"], series_id=ids["bluey"])  # fmt: skip
    ids["severance"] = await item(pool, library, "series", "Severance",
                                  official_rating="TV-MA", rating_rank=17)  # fmt: skip
    ids["severance_1"] = await item(pool, library, "episode", "Good News About Hell",
                                    parent_id=ids["severance"],
                                    series_id=ids["severance"])  # fmt: skip
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)
        await conn.execute("SELECT revenge_refresh_search(array_agg(id)) FROM media_items")
    return ids


SIGN_IN = """mutation ($name: String!, $password: String!) {
  signIn(name: $name, password: $password) {
    __typename
    ... on SignInPayload { accessToken refreshToken user { id name } }
    ... on AuthError { code message }
  }
}"""


async def test_a_kids_profile_never_sees_adult_items_anywhere(
    app: Running, pool: asyncpg.Pool
) -> None:
    ids = await household(pool)
    admin = {"x-api-key": await admin_api_key(pool)}
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        created = await client.post(
            "/graphql",
            headers=admin,
            json={
                "query": 'mutation { createUser(input: {name: "kid", password: '
                '"crayons-and-glue", roles: [KIDS]}) { __typename } }'
            },
        )
        assert created.json()["data"]["createUser"]["__typename"] == "CreateUserPayload"
        profile = await pool.fetchval(
            "UPDATE profiles SET is_kids = true, max_rating = 'PG', allow_unrated = false "
            "FROM users WHERE users.id = profiles.user_id AND users.name = 'kid' "
            "RETURNING profiles.id"
        )
        async with pool.acquire() as conn:  # the parent shares the library with the profile
            await app.app.state.services["authz"].casbin.add_grant(
                conn, f"profile:{profile}", str(ids["library"])
            )
        signed_in = await gql(client, SIGN_IN, {"name": "kid", "password": "crayons-and-glue"})
        token = signed_in["data"]["signIn"]["accessToken"]
        kid = {"authorization": f"Bearer {token}"}

        async def ask(query: str, variables: dict[str, Any] | None = None) -> Any:
            response = await client.post(
                "/graphql", headers=kid, json={"query": query, "variables": variables or {}}
            )
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        page = await ask(
            "query ($l: ID!) { items(libraryId: $l, kinds: [MOVIE, SERIES]) "
            "{ totalCount nodes { title } } }",
            {"l": str(ids["library"])},
        )
        assert page["items"]["totalCount"] == 2
        assert [n["title"] for n in page["items"]["nodes"]] == ["Bluey", "Toy Story"]
        assert (await ask("{ libraries { name itemCount } }"))["libraries"] == [
            {"name": "Everything", "itemCount": 2}
        ]
        for hidden in ("alien", "doc", "severance", "severance_1"):
            found = await ask("query ($id: ID!) { item(id: $id) { id } }", {"id": str(ids[hidden])})
            assert found == {"item": None}, hidden
        assert (await ask('{ search(query: "alien") { title } }')) == {"search": []}
        assert (await ask('{ search(query: "magic") { title } }')) == {
            "search": [{"title": "Magic Xylophone"}]
        }
        children = await ask(
            "query ($id: ID!) { item(id: $id) { children { totalCount nodes { title } } } }",
            {"id": str(ids["bluey"])},
        )
        assert children["item"]["children"]["nodes"] == [{"title": "Magic Xylophone"}]
        episode = await ask(
            "query ($id: ID!) { item(id: $id) { title series { title } } }",
            {"id": str(ids["bluey_1"])},
        )
        assert episode["item"] == {"title": "Magic Xylophone", "series": {"title": "Bluey"}}
        refused = await client.post(
            "/graphql",
            headers=kid,
            json={"query": 'mutation { createLibrary(input: {name: "x", kind: MOVIES, '
                  'rootPaths: ["/tmp"]}) { __typename } }'},
        )  # fmt: skip
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

        # The parent, signed in with the admin key, sees all five top-level items.
        everything = await client.post(
            "/graphql",
            headers=admin,
            json={"query": "{ items(kinds: [MOVIE, SERIES]) { totalCount } }"},
        )
        assert everything.json()["data"]["items"]["totalCount"] == 5


async def test_sign_in_refresh_and_sign_out_through_the_gateway(
    app: Running, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        assert (await gql(client, "{ setupRequired }"))["data"] == {"setupRequired": True}
        setup = await gql(
            client,
            'mutation { setup(name: "owner", password: "a-long-passphrase") { __typename '
            "... on SignInPayload { accessToken refreshToken } } }",
        )
        tokens = setup["data"]["setup"]
        bearer = {"authorization": f"Bearer {tokens['accessToken']}"}
        me = await client.post("/graphql", headers=bearer, json={"query": "{ me { name roles } }"})
        assert me.json()["data"]["me"] == {"name": "owner", "roles": ["ADMIN"]}
        again = await gql(
            client,
            'mutation { setup(name: "intruder", password: "a-long-passphrase") { __typename '
            "... on AuthError { code } } }",
        )
        assert again["data"]["setup"] == {"__typename": "AuthError", "code": "SETUP_CLOSED"}
        assert await pool.fetchval("SELECT count(*) FROM users") == 1

        refreshed = await gql(
            client,
            "mutation ($t: String!) { refreshToken(token: $t) { "
            "... on SignInPayload { accessToken } } }",
            {"t": tokens["refreshToken"]},
        )
        fresh = {"authorization": f"Bearer {refreshed['data']['refreshToken']['accessToken']}"}
        out = await client.post(
            "/graphql", headers=fresh, json={"query": "mutation { signOut { __typename } }"}
        )
        assert out.json()["data"]["signOut"]["__typename"] == "SignOutPayload"
        after = await client.post("/graphql", headers=fresh, json={"query": "{ me { name } }"})
        assert after.status_code == 401
        assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_guests_see_granted_libraries_and_keys_need_their_scope(
    app: Running, pool: asyncpg.Pool
) -> None:
    ids = await household(pool)
    other = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('Private', 'movies', "
        "ARRAY['/private']) RETURNING id"
    )
    await item(pool, other, "movie", "Home Videos")
    admin = {"x-api-key": await admin_api_key(pool)}
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:

        async def as_admin(query: str, variables: dict[str, Any] | None = None) -> Any:
            response = await client.post(
                "/graphql", headers=admin, json={"query": query, "variables": variables or {}}
            )
            return response.json()

        guest = await as_admin(
            'mutation { createUser(input: {name: "visitor", password: "just-visiting", '
            "roles: [GUEST]}) { ... on CreateUserPayload { user { id } } } }"
        )
        guest_id = guest["data"]["createUser"]["user"]["id"]
        signed_in = await gql(client, SIGN_IN, {"name": "visitor", "password": "just-visiting"})
        bearer = {"authorization": f"Bearer {signed_in['data']['signIn']['accessToken']}"}

        async def guest_sees() -> list[str]:
            response = await client.post(
                "/graphql", headers=bearer, json={"query": "{ libraries { name } }"}
            )
            return [library["name"] for library in response.json()["data"]["libraries"]]

        assert await guest_sees() == []
        granted = await as_admin(
            "mutation ($l: ID!, $u: ID!) { grantLibraryAccess(libraryId: $l, userId: $u) "
            "{ __typename ... on LibraryAccessPayload { subject granted } } }",
            {"l": str(ids["library"]), "u": guest_id},
        )
        assert granted["data"]["grantLibraryAccess"]["granted"] is True
        assert await guest_sees() == ["Everything"]
        await as_admin(
            "mutation ($l: ID!, $u: ID!) { revokeLibraryAccess(libraryId: $l, userId: $u) "
            "{ __typename } }",
            {"l": str(ids["library"]), "u": guest_id},
        )
        assert await guest_sees() == []
        audit = await pool.fetch(
            "SELECT action FROM audit_events WHERE action LIKE 'library.%' ORDER BY created_at"
        )
        assert [row["action"] for row in audit] == ["library.grant", "library.revoke"]

        # A key minted for playback only may not browse the catalog.
        owner = await pool.fetchval("SELECT id FROM users WHERE name = 'visitor'")
        _, narrow = await create_api_key(pool, owner, "tv remote", ["playback:read"])
        refused = await client.post(
            "/graphql", headers={"x-api-key": narrow}, json={"query": "{ libraries { name } }"}
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
