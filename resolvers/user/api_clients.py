"""API clients (third-party apps) and their trusted documents.

An administrator registers a client and the manifest of operations its build contains; keys made
"persisted only" for the client may run those documents and nothing else. Two manifest formats are
accepted: graphql-codegen's persisted documents (``{"<sha256>": "<document>", ...}``) and Apollo's
``persisted-query-manifest.json`` (``{"format": "apollo-persisted-query-manifest", "version": 1,
"operations": [{"id", "name", "type", "body"}]}``). Every hash must be the SHA-256 of its body and
every body must validate against the public schema; one bad entry rejects the whole manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.errors import BadUserInput, NotFound
from infra.names import is_display_name
from resolvers.user.audit import record_event

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_MANIFEST_OPERATIONS",
    "DocumentChecker",
    "ManifestOperation",
    "create_api_client",
    "list_api_clients",
    "list_client_documents",
    "parse_manifest",
    "register_documents",
    "revoke_api_client",
    "revoke_client_document",
    "validate_key_client",
]

MAX_MANIFEST_OPERATIONS = 2_000
MAX_MANIFEST_BYTES = 5 * 1024 * 1024
APOLLO_FORMAT = "apollo-persisted-query-manifest"

DocumentChecker = Callable[[str], tuple[str, str | None]]
"""``check(document) -> (operation type, operation name)``; raises ``ValueError`` with the
reason when the document cannot run (the gateway validates against the composed schema)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ManifestOperation:
    sha256: str
    body: str
    name: str | None = None
    type: str | None = None


def normalize_hash(value: Any) -> str | None:
    """``sha256:<hex>`` or bare hex, lowercase; None when it is not a SHA-256 in hex."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:7].lower() == "sha256:":
        text = text[7:]
    text = text.lower()
    return text if _HEX64.fullmatch(text) else None


def parse_manifest(manifest: Any) -> list[ManifestOperation]:
    """The operations of a manifest in either format, sizes capped and hashes verified."""
    try:
        size = len(json.dumps(manifest, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise BadUserInput("the manifest is not JSON", field="manifest") from None
    if size > MAX_MANIFEST_BYTES:
        raise BadUserInput(
            f"the manifest is {size} bytes; the limit is {MAX_MANIFEST_BYTES}", field="manifest"
        )
    if not isinstance(manifest, dict):
        raise BadUserInput("the manifest must be a JSON object", field="manifest")
    if "format" in manifest or "operations" in manifest:
        entries = _apollo_entries(manifest)
    else:
        entries = [ManifestOperation(str(key), value) for key, value in manifest.items()]
    if len(entries) > MAX_MANIFEST_OPERATIONS:
        raise BadUserInput(
            f"the manifest has {len(entries)} operations; the limit is {MAX_MANIFEST_OPERATIONS}",
            field="manifest",
        )
    if not entries:
        raise BadUserInput("the manifest has no operations", field="manifest")
    operations: dict[str, ManifestOperation] = {}
    for entry in entries:
        sha256 = normalize_hash(entry.sha256)
        if sha256 is None:
            raise BadUserInput(f"{entry.sha256!r} is not a SHA-256 hash", field="manifest")
        if not isinstance(entry.body, str) or not entry.body.strip():
            raise BadUserInput(f"operation {sha256} has no document text", field="manifest")
        if hashlib.sha256(entry.body.encode()).hexdigest() != sha256:
            raise BadUserInput(
                f"operation {sha256} does not match the SHA-256 of its document", field="manifest"
            )
        operations[sha256] = ManifestOperation(sha256, entry.body, entry.name, entry.type)
    return list(operations.values())


def _apollo_entries(manifest: dict[str, Any]) -> list[ManifestOperation]:
    if manifest.get("format") != APOLLO_FORMAT or manifest.get("version") != 1:
        raise BadUserInput(
            f'an Apollo manifest has "format": "{APOLLO_FORMAT}" and "version": 1',
            field="manifest",
        )
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise BadUserInput('an Apollo manifest has an "operations" list', field="manifest")
    entries = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise BadUserInput("each operation is an object", field="manifest")
        name = operation.get("name")
        entries.append(
            ManifestOperation(
                str(operation.get("id")),
                operation.get("body"),  # type: ignore[arg-type]  # checked by the caller
                name if isinstance(name, str) else None,
                operation.get("type") if isinstance(operation.get("type"), str) else None,
            )
        )
    return entries


async def create_api_client(
    pool: asyncpg.Pool, name: str, actor_user_id: uuid.UUID, *, client_address: str | None = None
) -> asyncpg.Record:
    clean = name.strip()
    if not clean or len(clean) > 100 or not is_display_name(clean):
        raise BadUserInput("a client name is 1 to 100 printable characters", field="name")
    async with pool.acquire() as conn, conn.transaction():
        row: asyncpg.Record = await conn.fetchrow(
            "INSERT INTO api_clients (name, created_by) VALUES ($1, $2) RETURNING *",
            clean,
            actor_user_id,
        )
        await record_event(
            conn, action="api_client.create", result="ok", actor_user_id=actor_user_id,
            target=f"api_client:{row['id']}", client_address=client_address,
        )  # fmt: skip
    return row


async def list_api_clients(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT c.*, (SELECT count(*) FROM api_client_documents d WHERE d.client_id = c.id "
        "AND d.revoked_at IS NULL) AS document_count FROM api_clients c ORDER BY c.created_at"
    )
    return rows


async def list_client_documents(pool: asyncpg.Pool, client_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM api_client_documents WHERE client_id = $1 "
        "ORDER BY operation_name NULLS LAST, sha256",
        client_id,
    )
    return rows


async def _live_client(conn: asyncpg.Connection | asyncpg.Pool, client_id: uuid.UUID) -> None:
    found = await conn.fetchval(
        "SELECT id FROM api_clients WHERE id = $1 AND revoked_at IS NULL", client_id
    )
    if found is None:
        raise NotFound("no client has this id", field="clientId")


async def register_documents(
    pool: asyncpg.Pool,
    client_id: uuid.UUID,
    manifest: Any,
    check: DocumentChecker,
    actor_user_id: uuid.UUID,
    *,
    client_address: str | None = None,
) -> tuple[int, int]:
    """(added, unchanged). A document registered before and revoked since is added again.
    Nothing is stored unless every operation of the manifest is valid."""
    operations = parse_manifest(manifest)
    # Up to 2,000 documents are parsed and validated: on a thread, never on the event loop.
    types, names = await asyncio.to_thread(_check_all, operations, check)
    async with pool.acquire() as conn, conn.transaction():
        await _live_client(conn, client_id)
        added: int = await conn.fetchval(
            "WITH input AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
            " AS t(sha256, operation_name, operation_type, document)),"
            " upserted AS (INSERT INTO api_client_documents"
            " (client_id, sha256, operation_name, operation_type, document)"
            " SELECT $1, sha256, operation_name, operation_type, document FROM input"
            " ON CONFLICT (client_id, sha256) DO UPDATE SET revoked_at = NULL"
            " WHERE api_client_documents.revoked_at IS NOT NULL RETURNING 1)"
            " SELECT count(*) FROM upserted",
            client_id,
            [operation.sha256 for operation in operations],
            names,
            types,
            [operation.body for operation in operations],
        )
        await record_event(
            conn, action="api_client.register_documents", result="ok",
            actor_user_id=actor_user_id, target=f"api_client:{client_id}",
            client_address=client_address,
            details={"added": added, "unchanged": len(operations) - added},
        )  # fmt: skip
    return added, len(operations) - added


def _check_all(
    operations: list[ManifestOperation], check: DocumentChecker
) -> tuple[list[str], list[str | None]]:
    """Each operation's type and name; BadUserInput names the first invalid one."""
    types: list[str] = []
    names: list[str | None] = []
    for operation in operations:
        try:
            kind, name = check(operation.body)
        except ValueError as problem:
            raise BadUserInput(
                f"operation {operation.name or operation.sha256} is not valid: {problem}",
                field="manifest",
            ) from None
        types.append(kind)
        names.append(name or operation.name)
    return types, names


async def revoke_client_document(
    pool: asyncpg.Pool, client_id: uuid.UUID, sha256: str, actor_user_id: uuid.UUID
) -> asyncpg.Record:
    normalized = normalize_hash(sha256)
    row: asyncpg.Record | None = None
    if normalized is not None:
        row = await pool.fetchrow(
            "UPDATE api_client_documents SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE client_id = $1 AND sha256 = $2 RETURNING *",
            client_id,
            normalized,
        )
    if row is None:
        raise NotFound("the client has no document with this hash", field="hash")
    await record_event(
        pool, action="api_client.revoke_document", result="ok", actor_user_id=actor_user_id,
        target=f"api_client:{client_id}", details={"sha256": normalized},
    )  # fmt: skip
    return row


async def revoke_api_client(
    pool: asyncpg.Pool, client_id: uuid.UUID, actor_user_id: uuid.UUID
) -> asyncpg.Record:
    """The client's keys stop working at once (authentication checks the client)."""
    row: asyncpg.Record | None = await pool.fetchrow(
        "UPDATE api_clients SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 "
        "RETURNING *, (SELECT count(*) FROM api_client_documents d WHERE d.client_id = $1 "
        "AND d.revoked_at IS NULL) AS document_count",
        client_id,
    )
    if row is None:
        raise NotFound("no client has this id", field="id")
    await record_event(
        pool, action="api_client.revoke", result="ok", actor_user_id=actor_user_id,
        target=f"api_client:{client_id}",
    )  # fmt: skip
    return row


async def validate_key_client(
    pool: asyncpg.Pool, client_id: uuid.UUID | None, persisted_only: bool
) -> None:
    """A key's client must exist and be live; a persisted-only key needs one."""
    if persisted_only and client_id is None:
        raise BadUserInput("a persisted-only key belongs to a client", field="clientId")
    if client_id is not None:
        await _live_client(pool, client_id)
