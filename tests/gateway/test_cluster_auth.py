"""Cached principals on a real two-process `revenge serve`: sign-out, disabling and a role change
made through one process take effect at once on both (infra/principal_cache.py)."""

from __future__ import annotations

import subprocess

import httpx

from tests.gateway.test_cli import cli_admin_key
from tests.gateway.test_cluster import cluster  # noqa: F401 - the two-process server fixture

# New connections each: the kernel spreads connections over the two processes, so 20 of them
# reach both (all 20 on one process: odds of 2 in a million).
SPREAD = 20
PASSWORD = "a long enough password"


def call(
    url: str, query: str, *, token: str | None = None, key: str | None = None, **variables: object
) -> dict[str, object]:
    headers = {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if key:
        headers["x-api-key"] = key
    with httpx.Client(timeout=10) as client:
        answer = client.post(
            url + "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body: dict[str, object] = answer.json()
    return body


def codes(body: dict[str, object]) -> list[str]:
    errors = body.get("errors") or []
    return [error.get("extensions", {}).get("code") for error in errors]  # type: ignore[union-attr]


def create_user(url: str, key: str, name: str, roles: str = "[USER]") -> str:
    body = call(
        url,
        f"mutation($name: String!, $password: String!) {{ createUser(input: "
        f"{{name: $name, password: $password, roles: {roles}}}) "
        "{ ... on CreateUserPayload { user { id } } ... on AuthError { code } } }",
        key=key,
        name=name,
        password=PASSWORD,
    )
    user_id: str = body["data"]["createUser"]["user"]["id"]  # type: ignore[index]
    return user_id


def sign_in(url: str, name: str) -> str:
    body = call(
        url,
        "mutation($name: String!, $password: String!) { signIn(name: $name, password: $password)"
        " { ... on SignInPayload { accessToken } ... on AuthError { code message } } }",
        name=name,
        password=PASSWORD,
    )
    token: str = body["data"]["signIn"]["accessToken"]  # type: ignore[index]
    return token


def every_process_answers(url: str, query: str, token: str) -> list[list[str]]:
    return [codes(call(url, query, token=token)) for _ in range(SPREAD)]


def test_a_change_through_one_process_takes_effect_at_once_on_every_process(
    cluster: tuple[subprocess.Popen[bytes], str, dict[str, str]],  # noqa: F811
) -> None:
    _, url, env = cluster
    admin = cli_admin_key(env)
    me = "{ me { id } }"

    # Sign-out: the token worked on both processes (now cached there), then works on neither.
    create_user(url, admin, "casey")
    token = sign_in(url, "casey")
    assert every_process_answers(url, me, token) == [[]] * SPREAD
    signed_out = call(
        url, "mutation { signOut { ... on SignOutPayload { sessionId } } }", token=token
    )
    assert "errors" not in signed_out, signed_out
    assert every_process_answers(url, me, token) == [["UNAUTHENTICATED"]] * SPREAD

    # Disabled by an administrator.
    dana = create_user(url, admin, "dana")
    token = sign_in(url, "dana")
    assert every_process_answers(url, me, token) == [[]] * SPREAD
    disabled = call(
        url,
        "mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true)"
        " { ... on UpdateUserPayload { user { isDisabled } } } }",
        key=admin,
        id=dana,
    )
    assert disabled["data"] == {"setUserDisabled": {"user": {"isDisabled": True}}}, disabled
    assert every_process_answers(url, me, token) == [["UNAUTHENTICATED"]] * SPREAD

    # An administrator demoted: administration refused at once, the session itself still good.
    erin = create_user(url, admin, "erin", roles="[ADMIN]")
    token = sign_in(url, "erin")
    users = "{ users { id } }"
    assert every_process_answers(url, users, token) == [[]] * SPREAD
    demoted = call(
        url,
        "mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER])"
        " { ... on UpdateUserPayload { user { roles } } } }",
        key=admin,
        id=erin,
    )
    assert demoted["data"] == {"setUserRoles": {"user": {"roles": ["USER"]}}}, demoted
    refused = every_process_answers(url, users, token)
    assert all(answer and "UNAUTHENTICATED" not in answer for answer in refused), refused
    assert every_process_answers(url, me, token) == [[]] * SPREAD
