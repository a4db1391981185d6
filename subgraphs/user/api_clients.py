"""API clients and their trusted documents: administrators' root fields.

A client is a third-party app; its manifest of operations (graphql-codegen persisted documents or
Apollo's persisted-query manifest) is registered here, and keys made ``persistedOnly`` for it run
those documents and nothing else (the gateway enforces that). Mixed into the subgraph's ``Query``
and ``Mutation``.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from infra.errors import BadUserInput, NotFound, RevengeError
from loaders.context import Context
from resolvers.user.api_clients import (
    DocumentChecker,
    create_api_client,
    list_api_clients,
    list_client_documents,
    register_documents,
    revoke_api_client,
    revoke_client_document,
)
from subgraphs.user.permissions import is_admin, principals_changed, require_admin, require_user
from subgraphs.user.types import parse_id

__all__ = [
    "ApiClient",
    "ApiClientError",
    "ApiClientErrorCode",
    "ApiClientMutation",
    "ApiClientQuery",
    "PersistedDocument",
]

Info = strawberry.Info[Context, None]


@strawberry.type
class ApiClient:
    id: strawberry.ID
    name: str
    document_count: int = strawberry.field(description="Registered documents not revoked.")
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ApiClient:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            document_count=row.get("document_count") or 0,
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
        )


@strawberry.type
class PersistedDocument:
    hash: str = strawberry.field(description="SHA-256 of the body, lowercase hex.")
    operation_name: str | None
    operation_type: str = strawberry.field(description="query, mutation or subscription.")
    body: str
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> PersistedDocument:
        return cls(
            hash=row["sha256"],
            operation_name=row["operation_name"],
            operation_type=row["operation_type"],
            body=row["document"],
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
        )


@strawberry.enum
class ApiClientErrorCode(Enum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"


@strawberry.type
class ApiClientError:
    code: ApiClientErrorCode
    message: str
    field: str | None = None


@strawberry.type
class ApiClientPayload:
    client: ApiClient


@strawberry.type
class RegisterPersistedDocumentsPayload:
    added: int = strawberry.field(description="Documents new to the client (or revoked before).")
    unchanged: int = strawberry.field(description="Documents the client already had.")


@strawberry.type
class PersistedDocumentPayload:
    document: PersistedDocument


CreateApiClientResult = Annotated[
    ApiClientPayload | ApiClientError, strawberry.union("CreateApiClientResult")
]
RevokeApiClientResult = Annotated[
    ApiClientPayload | ApiClientError, strawberry.union("RevokeApiClientResult")
]
RegisterPersistedDocumentsResult = Annotated[
    RegisterPersistedDocumentsPayload | ApiClientError,
    strawberry.union("RegisterPersistedDocumentsResult"),
]
RevokePersistedDocumentResult = Annotated[
    PersistedDocumentPayload | ApiClientError, strawberry.union("RevokePersistedDocumentResult")
]


def _refusal(info: Info) -> ApiClientError | None:
    require_user(info.context.principal)
    if is_admin(info.context.principal, info.context.services["authz"]):
        return None
    return ApiClientError(code=ApiClientErrorCode.FORBIDDEN, message="administrators only")


def _error(problem: RevengeError) -> ApiClientError:
    field = problem.extensions.get("field")
    if isinstance(problem, BadUserInput):
        return ApiClientError(
            code=ApiClientErrorCode.BAD_USER_INPUT, message=problem.message, field=field
        )
    if isinstance(problem, NotFound):
        return ApiClientError(
            code=ApiClientErrorCode.NOT_FOUND, message=problem.message, field=field
        )
    raise problem


def _no_client(field: str) -> ApiClientError:
    return ApiClientError(
        code=ApiClientErrorCode.NOT_FOUND, message="no client has this id", field=field
    )


@strawberry.type
class ApiClientQuery:
    @strawberry.field
    async def api_clients(self, info: Info) -> list[ApiClient]:
        """Every registered API client, oldest first (administrators only)."""
        require_admin(info.context.principal, info.context.services["authz"])
        return [ApiClient.from_row(row) for row in await list_api_clients(info.context.pool)]

    @strawberry.field
    async def persisted_documents(
        self, info: Info, client_id: strawberry.ID
    ) -> list[PersistedDocument]:
        """A client's registered documents, revoked ones included (administrators only)."""
        require_admin(info.context.principal, info.context.services["authz"])
        client = parse_id(client_id)
        if client is None:
            return []
        rows = await list_client_documents(info.context.pool, client)
        return [PersistedDocument.from_row(row) for row in rows]


@strawberry.type
class ApiClientMutation:
    @strawberry.mutation
    async def create_api_client(self, info: Info, name: str) -> CreateApiClientResult:
        """Register a third-party app; its keys and documents hang off it."""
        refusal = _refusal(info)
        if refusal is not None:
            return refusal
        try:
            row = await create_api_client(
                info.context.pool, name, require_user(info.context.principal),
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return ApiClientPayload(client=ApiClient.from_row(row))

    @strawberry.mutation
    async def register_persisted_documents(
        self, info: Info, client_id: strawberry.ID, manifest: JSON
    ) -> RegisterPersistedDocumentsResult:
        """Add a manifest's operations to the client: graphql-codegen's persisted documents
        (``{"<sha256>": "<document>"}``) or Apollo's persisted-query manifest. Every hash must be
        the SHA-256 of its document and every document valid against the public schema, with no
        introspection; otherwise nothing is stored. At most 2,000 operations and 5 MB."""
        refusal = _refusal(info)
        if refusal is not None:
            return refusal
        client = parse_id(client_id)
        if client is None:
            return _no_client("clientId")
        check: DocumentChecker | None = info.context.services.get("document_checker")
        if check is None:  # an app built without the request rules of gateway/graphql_edge.py
            raise RuntimeError("documents are registered through the gateway")
        try:
            added, unchanged = await register_documents(
                info.context.pool, client, manifest, check, require_user(info.context.principal),
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return _error(problem)
        return RegisterPersistedDocumentsPayload(added=added, unchanged=unchanged)

    @strawberry.mutation
    async def revoke_persisted_document(
        self, info: Info, client_id: strawberry.ID, hash: str
    ) -> RevokePersistedDocumentResult:
        """The client's keys can no longer run this document (at once, on every replica)."""
        refusal = _refusal(info)
        if refusal is not None:
            return refusal
        client = parse_id(client_id)
        if client is None:
            return _no_client("clientId")
        try:
            row = await revoke_client_document(
                info.context.pool, client, hash, require_user(info.context.principal)
            )
        except RevengeError as problem:
            return _error(problem)
        return PersistedDocumentPayload(document=PersistedDocument.from_row(row))

    @strawberry.mutation
    async def revoke_api_client(self, info: Info, id: strawberry.ID) -> RevokeApiClientResult:
        """Every key of the client stops working."""
        refusal = _refusal(info)
        if refusal is not None:
            return refusal
        client = parse_id(id)
        if client is None:
            return _no_client("id")
        try:
            row = await revoke_api_client(
                info.context.pool, client, require_user(info.context.principal)
            )
        except RevengeError as problem:
            return _error(problem)
        await principals_changed(info, None)  # its keys' principals, whoever holds them
        return ApiClientPayload(client=ApiClient.from_row(row))
