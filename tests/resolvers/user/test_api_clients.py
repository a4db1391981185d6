"""API clients and manifests of trusted documents, against real PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
import uuid

import asyncpg
import pytest

from gateway.graphql_http import GraphQLService
from gateway.persisted_queries import trusted_document_checker
from gateway.schema import composed_schema
from infra.authz.principal import Principal
from infra.errors import BadUserInput, NotFound
from resolvers.user.api_clients import (
    MAX_MANIFEST_OPERATIONS,
    create_api_client,
    list_api_clients,
    list_client_documents,
    parse_manifest,
    register_documents,
    revoke_api_client,
    revoke_client_document,
)
from resolvers.user.api_keys import create_api_key
from resolvers.user.principals import principal_for_api_key
from tests.resolvers.user.conftest import MakeUser

ME = "query Me { me { name } }"
LIBRARIES = "query Libraries { libraries { id name } }"
CHECK = trusted_document_checker(GraphQLService(composed_schema().schema).check)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apollo_manifest(*bodies: str) -> dict[str, object]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha(b), "name": b.split()[1], "type": "query", "body": b} for b in bodies
        ],
    }


def test_both_manifest_formats_parse_to_the_same_operations() -> None:
    codegen = parse_manifest({sha(ME): ME, f"sha256:{sha(LIBRARIES).upper()}": LIBRARIES})
    apollo = parse_manifest(apollo_manifest(ME, LIBRARIES))

    assert [(o.sha256, o.body) for o in codegen] == [(sha(ME), ME), (sha(LIBRARIES), LIBRARIES)]
    assert [(o.sha256, o.body, o.name) for o in apollo] == [
        (sha(ME), ME, "Me"),
        (sha(LIBRARIES), LIBRARIES, "Libraries"),
    ]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({sha(ME): LIBRARIES}, "does not match the SHA-256"),
        ({"nothex": ME}, "is not a SHA-256 hash"),
        ({}, "no operations"),
        ([ME], "must be a JSON object"),
        ({"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}, "version"),
        ({sha(ME): 42}, "no document text"),
    ],
)
def test_bad_manifests_are_refused(manifest: object, message: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        parse_manifest(manifest)

    assert message in refused.value.message


def test_huge_manifests_are_refused() -> None:
    many = {f"{i:064x}": "{ me { name } }" for i in range(MAX_MANIFEST_OPERATIONS + 1)}
    bulky = {sha(ME): ME, "padding": "x" * (5 * 1024 * 1024)}

    with pytest.raises(BadUserInput) as too_many:
        parse_manifest(many)
    with pytest.raises(BadUserInput) as too_big:
        parse_manifest(bulky)

    assert too_many.value.message == "the manifest has 2001 operations; the limit is 2000"
    assert too_big.value.message.endswith("bytes; the limit is 5242880")


async def test_register_counts_added_and_unchanged_and_revival(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, " Mobile app ", admin)

    first = await register_documents(pool, client["id"], {sha(ME): ME}, CHECK, admin)
    second = await register_documents(
        pool, client["id"], apollo_manifest(ME, LIBRARIES), CHECK, admin
    )
    await revoke_client_document(pool, client["id"], f"sha256:{sha(ME)}", admin)
    third = await register_documents(pool, client["id"], {sha(ME): ME}, CHECK, admin)

    assert (first, second, third) == ((1, 0), (1, 1), (1, 0))
    documents = await list_client_documents(pool, client["id"])
    assert [(d["operation_name"], d["operation_type"], d["revoked_at"]) for d in documents] == [
        ("Libraries", "query", None),
        ("Me", "query", None),
    ]
    clients = await list_api_clients(pool)
    assert [(c["name"], c["document_count"]) for c in clients] == [("Mobile app", 2)]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{ nothingHere }", "Cannot query field 'nothingHere'"),
        ("{ __schema { types { name } } }", "introspection is not allowed"),
        ("query A { me { name } } query B { libraries { id } }", "exactly one operation"),
        ("{ me { name ", "Syntax Error"),
    ],
)
async def test_a_manifest_with_an_invalid_document_stores_nothing(
    pool: asyncpg.Pool, make_user: MakeUser, document: str, reason: str
) -> None:
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, "App", admin)

    with pytest.raises(BadUserInput) as refused:
        await register_documents(pool, client["id"], {sha(ME): ME, sha(document): document},
                                 CHECK, admin)  # fmt: skip

    assert reason in refused.value.message
    assert await list_client_documents(pool, client["id"]) == []


async def test_unknown_clients_and_documents_are_not_found(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, "App", admin)

    with pytest.raises(NotFound):
        await register_documents(pool, uuid.uuid4(), {sha(ME): ME}, CHECK, admin)
    with pytest.raises(NotFound):
        await revoke_client_document(pool, client["id"], sha(ME), admin)
    with pytest.raises(NotFound):
        await revoke_api_client(pool, uuid.uuid4(), admin)


async def test_keys_of_a_client_carry_it_into_the_principal_until_it_is_revoked(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, "App", admin)
    _, key = await create_api_key(
        pool, admin, "app", ["catalog:read"], client_id=client["id"], persisted_only=True
    )

    principal = await principal_for_api_key(pool, key)
    await revoke_api_client(pool, client["id"], admin)

    assert principal == Principal(
        user_id=str(admin), profile_id=principal.profile_id, roles=frozenset({"admin"}),
        scopes=frozenset({"catalog:read"}), auth_method="api_key",
        api_client_id=str(client["id"]), persisted_only=True,
    )  # fmt: skip
    with pytest.raises(Exception, match="Invalid API key"):
        await principal_for_api_key(pool, key)


async def test_a_persisted_only_key_needs_a_live_client(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, "App", admin)
    await revoke_api_client(pool, client["id"], admin)

    with pytest.raises(BadUserInput):
        await create_api_key(pool, admin, "k", ["catalog:read"], persisted_only=True)
    with pytest.raises(NotFound):
        await create_api_key(pool, admin, "k", ["catalog:read"], client_id=client["id"])


async def test_documents_are_checked_off_the_event_loop(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    # Given a checker that notes the thread it runs on
    admin = await make_user("root", ("admin",))
    client = await create_api_client(pool, "Threads", admin)
    threads: list[int] = []

    def noting_check(document: str) -> tuple[str, str | None]:
        threads.append(threading.get_ident())
        return CHECK(document)

    # When a manifest of two documents is registered
    added = await register_documents(
        pool, client["id"], apollo_manifest(ME, LIBRARIES), noting_check, admin
    )

    # Then both were validated, neither on the event loop's thread
    assert added == (2, 0)
    assert len(threads) == 2
    assert threading.get_ident() not in threads
