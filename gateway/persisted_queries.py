"""Persisted queries at the edge: automatic persisted queries (APQ) and trusted documents.

APQ follows Apollo's protocol, so Apollo Client's persisted-query link works unchanged: a request
with ``extensions.persistedQuery = {"version": 1, "sha256Hash": …}`` and no ``query`` runs the
stored document, or is answered ``PersistedQueryNotFound`` (``extensions.code``
``PERSISTED_QUERY_NOT_FOUND``; HTTP 200 for ``application/json``, 400 for
``application/graphql-response+json`` — the link retries on either) and the client sends the
query with its hash, which stores it once the document validates. A hash that is not the SHA-256
of its query, an unknown version, or a document over the size cap is HTTP 400. Documents are
content-addressed, so they are cached without expiry: an in-process LRU, then Redis when
``REVENGE_CACHE_URL`` is set, then PostgreSQL. The LRU is safe per process, even with several
``revenge serve`` processes: a hash names one text for ever, so a cached copy is never stale and
a process that lacks one asks PostgreSQL, where every process stores. The quota of new documents
per caller (``REGISTRATIONS_PER_HOUR``) is counted in Redis or PostgreSQL (``attach``), so
across every process; it is a soft quota (a check, then a count), so callers racing past it
store at most a few more.

Trusted documents: an API key marked "persisted only" runs its client's registered, unrevoked
documents and nothing else. It names one by ``extensions.persistedQuery.sha256Hash`` or a
top-level ``documentId`` (``sha256:<hex>`` or bare hex, as the GraphQL-over-HTTP trusted
documents appendix writes them); any request carrying document text (raw queries, introspection,
APQ registration) is refused with ``extensions.code`` ``PERSISTED_QUERY_ONLY`` and HTTP 403.
Registered documents are read from PostgreSQL on every request, so a revocation holds at once on
every replica.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import structlog
from graphql import (
    DocumentNode,
    FieldNode,
    OperationDefinitionNode,
    Visitor,
    visit,
)

from infra.keyvalue import KeyValue
from infra.ratelimit import FailureLimiter, InProcessLimiter, LockoutPolicy
from resolvers.user.api_clients import normalize_hash
from resolvers.user.persisted_queries import (
    find_client_document,
    find_persisted_query,
    save_persisted_query,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "NOT_FOUND_MESSAGE",
    "REGISTRATIONS_PER_HOUR",
    "PersistedQueries",
    "PersistedQueryError",
    "ResolvedDocument",
    "registering_caller",
    "trusted_document_checker",
]

log = structlog.get_logger("revenge.persisted_queries")

MAX_DOCUMENT_BYTES = 64 * 1024
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
KEYVALUE_TTL_SECONDS = 7 * 24 * 3600.0
# New APQ documents one caller (a user, or an address when anonymous) may store per hour. A web
# app registers each of its operations once (ours has about 60), so this leaves room for a few
# releases an hour; past it, operations still run, sent as text, but nothing more is stored.
REGISTRATIONS_PER_HOUR = 200
REGISTRATION_POLICY = LockoutPolicy(
    max_failures=REGISTRATIONS_PER_HOUR,
    window_seconds=3600,
    first_lockout_seconds=3600,
    max_lockout_seconds=3600,
    forget_after_seconds=3600,
)


class PersistedQueryError(Exception):
    """A persisted-query problem. ``status`` None: answer it like any request error (400 for
    ``application/graphql-response+json``, 200 for legacy ``application/json``)."""

    def __init__(self, message: str, code: str, status: int | None = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class ResolvedDocument:
    """The document text to run; ``sha256``, its hash when the request named one (checked
    against the text or found by it); ``register``, that hash when the request registers it."""

    __slots__ = ("register", "sha256", "text")

    def __init__(self, text: str, sha256: str | None = None, register: str | None = None) -> None:
        self.text = text
        self.sha256 = sha256
        self.register = register


def _not_found() -> PersistedQueryError:
    return PersistedQueryError(NOT_FOUND_MESSAGE, "PERSISTED_QUERY_NOT_FOUND", None)


def requested_hash(extensions: Any, document_id: Any) -> str | None:
    """The hash a request names (``extensions.persistedQuery`` or ``documentId``), or None."""
    if document_id is not None:
        hashed = normalize_hash(document_id)
        if hashed is None:
            raise PersistedQueryError(
                "documentId must be 'sha256:<64 hex digits>' or the bare hex digest.",
                "BAD_REQUEST",
            )
        return hashed
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping):
        raise PersistedQueryError("extensions.persistedQuery must be a map.", "BAD_REQUEST")
    if persisted.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version; only version 1 is supported.",
            "PERSISTED_QUERY_VERSION_NOT_SUPPORTED",
        )
    raw = persisted.get("sha256Hash")
    hashed = normalize_hash(raw) if isinstance(raw, str) and ":" not in raw else None
    if hashed is None:
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be 64 hex digits.", "BAD_REQUEST"
        )
    return hashed


def _sent_hash(extensions: Any) -> str | None:
    """``extensions.persistedQuery.sha256Hash`` of a version 1 request as sent, unchecked."""
    persisted = extensions.get("persistedQuery") if type(extensions) is dict else None
    if type(persisted) is not dict or persisted.get("version") != 1:
        return None
    sent = persisted.get("sha256Hash")
    return sent if type(sent) is str else None


class _DocumentCache:
    """An LRU of hash → document, bounded by entries and by total characters."""

    def __init__(self, max_entries: int, max_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.chars = 0
        self.items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        previous = self.items.pop(key, None)
        if previous is not None:
            self.chars -= len(previous)
        self.items[key] = value
        self.chars += len(value)
        while self.items and (len(self.items) > self.max_entries or self.chars > self.max_chars):
            _, dropped = self.items.popitem(last=False)
            self.chars -= len(dropped)


class PersistedQueries:
    """Resolves a request's document (text, APQ hash or trusted document) for HTTP and WS.

    Without a pool (``attach`` not called: the fixture apps in tests, a bare ``graphql_routes``)
    APQ documents live in the in-process cache alone and there are no trusted documents.
    """

    def __init__(
        self,
        *,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        cache_entries: int = 2048,
        cache_chars: int = 32 * 1024 * 1024,
    ) -> None:
        self.max_document_bytes = max_document_bytes
        self._cache = _DocumentCache(cache_entries, cache_chars)
        self._pool: asyncpg.Pool | None = None
        self._keyvalue: KeyValue | None = None
        self._registrations: FailureLimiter = InProcessLimiter(REGISTRATION_POLICY)

    def attach(
        self,
        pool: asyncpg.Pool,
        keyvalue: KeyValue | None,
        registrations: FailureLimiter | None = None,
    ) -> None:
        """Back the cache with PostgreSQL and, when given, Redis (opened by the lifespan);
        ``registrations`` counts new documents per caller (``REGISTRATION_POLICY``), shared by
        the replicas when it lives in Redis."""
        self._pool = pool
        self._keyvalue = keyvalue
        if registrations is not None:
            self._registrations = registrations

    async def close(self) -> None:
        keyvalue, self._keyvalue, self._pool = self._keyvalue, None, None
        if keyvalue is not None:
            await keyvalue.close()
        await self._registrations.close()

    async def resolve(
        self, principal: Any, query: str | None, extensions: Any, document_id: Any
    ) -> ResolvedDocument:
        """The document the request asks to run; raises ``PersistedQueryError``."""
        if query is None and document_id is None:
            # The common hit, a hash alone whose document this process holds: only checked,
            # normalized hashes are stored, so finding the value as sent proves it is one.
            sent = _sent_hash(extensions)
            if sent is not None and not getattr(principal, "persisted_only", False):
                text = self._cache.get(sent)
                if text is not None:
                    return ResolvedDocument(text, sent)
        sha256 = requested_hash(extensions, document_id)
        if getattr(principal, "persisted_only", False):
            return await self._trusted(principal, query, sha256)
        if sha256 is None:
            if query is None:
                raise PersistedQueryError("The query parameter is missing.", "BAD_REQUEST")
            return ResolvedDocument(query)
        if query is not None:
            try:
                encoded = query.encode()
            except UnicodeEncodeError:  # a lone surrogate: the text has no UTF-8 form to hash
                raise PersistedQueryError(
                    "The query text holds a lone surrogate, which is not text.", "BAD_USER_INPUT"
                ) from None
            if len(encoded) > self.max_document_bytes:
                raise PersistedQueryError(
                    f"A persisted document is at most {self.max_document_bytes} bytes.",
                    "PERSISTED_QUERY_TOO_LARGE",
                )
            if hashlib.sha256(encoded).hexdigest() != sha256:
                raise PersistedQueryError(
                    "provided sha does not match query: the hash is not the SHA-256 of the"
                    " query text (UTF-8, lowercase hex).",
                    "PERSISTED_QUERY_HASH_MISMATCH",
                )
            return ResolvedDocument(query, sha256, register=sha256)
        text = await self.find(sha256)
        if text is None:
            raise _not_found()
        return ResolvedDocument(text, sha256)

    async def _trusted(
        self, principal: Any, query: str | None, sha256: str | None
    ) -> ResolvedDocument:
        if query is not None or sha256 is None:
            raise PersistedQueryError(
                "This API key may only run its client's registered documents: send"
                " documentId (or extensions.persistedQuery.sha256Hash) without the query text.",
                "PERSISTED_QUERY_ONLY",
                403,
            )
        client_id = getattr(principal, "api_client_id", None)
        if self._pool is None or client_id is None:
            raise _not_found()
        text = await find_client_document(self._pool, client_id, sha256)
        if text is None:
            raise _not_found()
        return ResolvedDocument(text, sha256)

    async def find(self, sha256: str) -> str | None:
        text = self._cache.get(sha256)
        if text is not None:
            return text
        if self._keyvalue is not None:
            try:
                stored = await self._keyvalue.get(f"apq:{sha256}")
            except Exception:  # Redis down: PostgreSQL still answers
                log.warning("persisted query cache read failed", exc_info=True)
                stored = None
            if stored is not None:
                text = stored.decode()
                self._cache.put(sha256, text)
                return text
        if self._pool is None:
            return None
        text = await find_persisted_query(self._pool, sha256)
        if text is not None:
            self._cache.put(sha256, text)
            await self._share(sha256, text)
        return text

    async def save(self, sha256: str, text: str, caller: str) -> bool:
        """Store a document that validated (the caller checked the hash); ``caller`` names who
        registers it (``user:<id>`` or ``ip:<address>``). False when that caller has stored
        ``REGISTRATIONS_PER_HOUR`` new documents within the hour: nothing is stored, and the
        operation, sent as text, still runs."""
        if await self.find(sha256) is not None:  # stored before, by anyone: not new
            return True
        key = f"apq:{caller}"
        if await self._registrations.check(key) > 0:
            log.info("persisted query not stored: registration quota", caller=caller)
            return False
        await self._registrations.record_failure(key)  # one more new document this hour
        self._cache.put(sha256, text)
        if self._pool is not None:
            await save_persisted_query(self._pool, sha256, text)
        await self._share(sha256, text)
        return True

    async def _share(self, sha256: str, text: str) -> None:
        if self._keyvalue is None:
            return
        try:
            await self._keyvalue.set(f"apq:{sha256}", text.encode(), KEYVALUE_TTL_SECONDS)
        except Exception:
            log.warning("persisted query cache write failed", exc_info=True)


def registering_caller(principal: Any, address: str | None) -> str:
    """Who a registration counts against: the signed-in user, else the client's address."""
    user_id = getattr(principal, "user_id", None)
    return f"user:{user_id}" if user_id else f"ip:{address or 'unknown'}"


class _Introspection(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.found = True


def trusted_document_checker(
    check: Callable[[str], DocumentNode], max_document_bytes: int = MAX_DOCUMENT_BYTES
) -> Callable[[str], tuple[str, str | None]]:
    """What ``registerPersistedDocuments`` validates a manifest's bodies with.

    ``check`` parses and validates against the composed schema with the gateway's own limits
    (``GraphQLService.check``). A trusted document holds exactly one operation and no
    introspection: a persisted-only key gets nothing but the operations its app ships.
    """

    def checker(text: str) -> tuple[str, str | None]:
        if len(text.encode()) > max_document_bytes:
            raise ValueError(f"a document is at most {max_document_bytes} bytes")
        try:
            document = check(text)
        except Exception as problem:  # the gateway's RequestError, with the reason
            raise ValueError(str(problem)) from None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1:
            raise ValueError("a trusted document holds exactly one operation")
        introspection = _Introspection()
        visit(document, introspection)
        if introspection.found:
            raise ValueError("introspection is not allowed in a trusted document")
        operation = operations[0]
        return operation.operation.value, operation.name.value if operation.name else None

    return checker
