"""What a refused caller sees: 401/403 as GraphQL JSON with a code, and nothing of the reason
behind it (a policy's, a token's), which goes to the log instead."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import structlog

from infra.key_rotation import key_ring_path
from infra.tokens import KeyRing, issue_access_token
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import GRAPHQL_RESPONSE, Running

SESSION = str(uuid.uuid4())
USER = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("user_id", "session_id", "profile_id", "reason"),
    [
        (USER, "not-a-uuid", None, "malformed: sid is not a UUID"),
        (USER, SESSION, "profile-1", "malformed: pid is not a UUID"),
        ("root", SESSION, None, "malformed: sub is not a UUID"),
    ],
    ids=["sid", "pid", "sub"],
)
async def test_a_signed_token_with_ids_that_are_not_uuids_is_a_401(
    app: Running, user_id: str, session_id: str, profile_id: str | None, reason: str
) -> None:
    ring = KeyRing.open(key_ring_path(app.app.state.settings.data_dir))
    token = issue_access_token(ring, user_id=user_id, session_id=session_id, profile_id=profile_id)

    with structlog.testing.capture_logs() as logs:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            response = await client.post(
                "/graphql",
                json={"query": "{ libraries { id } }"},
                headers={"accept": GRAPHQL_RESPONSE, "authorization": f"Bearer {token}"},
            )

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {
        "errors": [
            {
                "message": "Invalid or expired access token",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert [(log["event"], log["reason"]) for log in logs if "reason" in log] == [
        ("access token refused", reason)
    ]


async def test_a_refusal_names_no_policy_reason_but_logs_it(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        admin = await create_user(conn, "root", "correct horse battery", ("admin",))
    _, reader_key = await create_api_key(pool, admin["id"], "reader", ("catalog:read",))

    with structlog.testing.capture_logs() as logs:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "mutation ($input: CreateLibraryInput!) { createLibrary(input: "
                    "$input) { __typename } }",
                    "variables": {
                        "input": {"name": "Films", "kind": "MOVIES", "rootPaths": [str(tmp_path)]}
                    },
                },
                headers={"accept": GRAPHQL_RESPONSE, "x-api-key": reader_key},
            )

    (error,) = response.json()["errors"]
    assert (error["message"], error["extensions"]) == (
        "not allowed to write admin:libraries",
        {"code": "FORBIDDEN"},
    )
    assert "scope" not in response.text
    assert [(log["event"], log["code"], log["reason"]) for log in logs if "reason" in log] == [
        ("graphql.refused", "FORBIDDEN", "missing scope admin:write")
    ]
