"""The stores behind persisted queries: automatic persisted queries (any caller's documents, by
hash) and a client's trusted documents (what a "persisted only" key may run)."""

from __future__ import annotations

import uuid

import asyncpg

__all__ = ["find_client_document", "find_persisted_query", "save_persisted_query"]


async def find_persisted_query(pool: asyncpg.Pool, sha256: str) -> str | None:
    document: str | None = await pool.fetchval(
        "SELECT document FROM persisted_queries WHERE sha256 = $1", sha256
    )
    return document


async def save_persisted_query(pool: asyncpg.Pool, sha256: str, document: str) -> None:
    """Content-addressed: a hash already stored keeps its (identical) document."""
    await pool.execute(
        "INSERT INTO persisted_queries (sha256, document) VALUES ($1, $2) "
        "ON CONFLICT (sha256) DO NOTHING",
        sha256,
        document,
    )


async def find_client_document(pool: asyncpg.Pool, client_id: str, sha256: str) -> str | None:
    """The client's registered, unrevoked document with this hash (the client not revoked)."""
    document: str | None = await pool.fetchval(
        "SELECT d.document FROM api_client_documents d JOIN api_clients c ON c.id = d.client_id "
        "WHERE d.client_id = $1 AND d.sha256 = $2 AND d.revoked_at IS NULL "
        "AND c.revoked_at IS NULL",
        uuid.UUID(client_id),
        sha256,
    )
    return document
