"""API clients and trusted documents through the user subgraph: administrators only."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg

from gateway.graphql_http import GraphQLService
from gateway.persisted_queries import trusted_document_checker
from gateway.schema import composed_schema
from subgraphs.user.schema import schema
from tests.subgraphs.user.conftest import Api, error_codes

ME = "query Me { me { name } }"
CHECK = trusted_document_checker(GraphQLService(composed_schema().schema).check)

CREATE_CLIENT = """
mutation($name: String!) { createApiClient(name: $name) {
  __typename ... on ApiClientPayload { client { id name documentCount revokedAt } }
  ... on ApiClientError { code message field } } }
"""
REGISTER = """
mutation($clientId: ID!, $manifest: JSON!) {
  registerPersistedDocuments(clientId: $clientId, manifest: $manifest) {
    __typename ... on RegisterPersistedDocumentsPayload { added unchanged }
    ... on ApiClientError { code message field } } }
"""
REVOKE_DOCUMENT = """
mutation($clientId: ID!, $hash: String!) {
  revokePersistedDocument(clientId: $clientId, hash: $hash) {
  __typename ... on PersistedDocumentPayload { document { hash revokedAt } }
  ... on ApiClientError { code } } }
"""
REVOKE_CLIENT = """
mutation($id: ID!) { revokeApiClient(id: $id) {
  __typename ... on ApiClientPayload { client { id documentCount } }
  ... on ApiClientError { code } } }
"""
CREATE_KEY = """
mutation($clientId: ID, $persistedOnly: Boolean!) {
  createApiKey(name: "app", scopes: ["catalog:read"], clientId: $clientId,
               persistedOnly: $persistedOnly) {
    __typename ... on CreateApiKeyPayload { key apiKey { clientId persistedOnly } }
    ... on AuthError { code field } } }
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def run(api: Api, query: str, token: str | None, **variables: Any) -> Any:
    context = await api.context(token)
    context.services["document_checker"] = CHECK
    return await schema.execute(query, variable_values=variables, context_value=context)


async def data(api: Api, query: str, token: str | None, **variables: Any) -> Any:
    result = await run(api, query, token, **variables)
    assert result.errors is None, result.errors
    return result.data


async def test_an_administrator_registers_lists_and_revokes(api: Api) -> None:
    token = (await api.setup_admin())["accessToken"]
    created = await data(api, CREATE_CLIENT, token, name="Mobile")
    client_id = created["createApiClient"]["client"]["id"]
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": sha(ME), "name": "Me", "type": "query", "body": ME}],
    }

    first = await data(api, REGISTER, token, clientId=client_id, manifest={sha(ME): ME})
    again = await data(api, REGISTER, token, clientId=client_id, manifest=apollo)
    listed = await data(api, "{ apiClients { name documentCount } }", token)
    documents = await data(
        api,
        "query($id: ID!) { persistedDocuments(clientId: $id) "
        "{ hash operationName operationType body revokedAt } }",
        token,
        id=client_id,
    )
    revoked = await data(api, REVOKE_DOCUMENT, token, clientId=client_id, hash=sha(ME))
    gone = await data(api, REVOKE_CLIENT, token, id=client_id)

    assert created["createApiClient"]["client"] == {
        "id": client_id, "name": "Mobile", "documentCount": 0, "revokedAt": None,
    }  # fmt: skip
    assert first["registerPersistedDocuments"] == {
        "__typename": "RegisterPersistedDocumentsPayload", "added": 1, "unchanged": 0,
    }  # fmt: skip
    assert again["registerPersistedDocuments"]["unchanged"] == 1
    assert listed == {"apiClients": [{"name": "Mobile", "documentCount": 1}]}
    assert documents["persistedDocuments"] == [
        {"hash": sha(ME), "operationName": "Me", "operationType": "query", "body": ME,
         "revokedAt": None}
    ]  # fmt: skip
    assert revoked["revokePersistedDocument"]["document"]["hash"] == sha(ME)
    assert revoked["revokePersistedDocument"]["document"]["revokedAt"] is not None
    assert gone["revokeApiClient"]["client"] == {"id": client_id, "documentCount": 0}


async def test_bad_manifests_are_bad_user_input_and_store_nothing(
    api: Api, pool: asyncpg.Pool
) -> None:
    token = (await api.setup_admin())["accessToken"]
    created = await data(api, CREATE_CLIENT, token, name="App")
    client_id = created["createApiClient"]["client"]["id"]
    huge = {f"{i:064x}": "{ me { name } }" for i in range(2_001)}
    invalid = "{ doesNotExist }"

    too_many = await data(api, REGISTER, token, clientId=client_id, manifest=huge)
    bad_document = await data(
        api, REGISTER, token, clientId=client_id, manifest={sha(ME): ME, sha(invalid): invalid}
    )
    mismatched = await data(api, REGISTER, token, clientId=client_id, manifest={sha(ME): invalid})
    unknown = await data(
        api,
        REGISTER,
        token,
        clientId="0190a0a0-0000-7000-8000-000000000000",
        manifest={sha(ME): ME},
    )

    assert too_many["registerPersistedDocuments"] == {
        "__typename": "ApiClientError", "code": "BAD_USER_INPUT",
        "message": "the manifest has 2001 operations; the limit is 2000", "field": "manifest",
    }  # fmt: skip
    assert bad_document["registerPersistedDocuments"]["code"] == "BAD_USER_INPUT"
    assert "doesNotExist" in bad_document["registerPersistedDocuments"]["message"]
    assert mismatched["registerPersistedDocuments"]["code"] == "BAD_USER_INPUT"
    assert unknown["registerPersistedDocuments"]["code"] == "NOT_FOUND"
    assert await pool.fetchval("SELECT count(*) FROM api_client_documents") == 0


async def test_api_clients_are_refused_to_users_and_to_nobody(api: Api) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin["accessToken"], "bob", "bobs password")
    bob = (await api.sign_in("bob", "bobs password"))["accessToken"]

    create = await data(api, CREATE_CLIENT, bob, name="Mine")
    listing = await run(api, "{ apiClients { id } }", bob)
    anonymous = await run(api, CREATE_CLIENT, None, name="Mine")
    key = await data(
        api, CREATE_KEY, bob, clientId="0190a0a0-0000-7000-8000-000000000000", persistedOnly=True
    )

    assert create["createApiClient"]["code"] == "FORBIDDEN"
    assert error_codes(listing) == ["FORBIDDEN"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert key["createApiKey"] == {
        "__typename": "AuthError",
        "code": "FORBIDDEN",
        "field": "clientId",
    }


async def test_create_api_key_for_a_client_persisted_only(api: Api) -> None:
    token = (await api.setup_admin())["accessToken"]
    created = await data(api, CREATE_CLIENT, token, name="App")
    client_id = created["createApiClient"]["client"]["id"]

    key = await data(api, CREATE_KEY, token, clientId=client_id, persistedOnly=True)
    without_client = await data(api, CREATE_KEY, token, clientId=None, persistedOnly=True)

    assert key["createApiKey"]["apiKey"] == {"clientId": client_id, "persistedOnly": True}
    assert without_client["createApiKey"] == {
        "__typename": "AuthError", "code": "INVALID_INPUT", "field": "clientId",
    }  # fmt: skip
