"""``/graphql`` over HTTP (the GraphQL-over-HTTP spec) and the shared request pipeline.

The pipeline (``GraphQLService``) is what HTTP and the WebSocket transport have in
common: a token limit checked with graphql-core's lexer before parsing, LRU caches of
parsed and validated documents, a depth limit, variable coercion reported as
``BAD_USER_INPUT``, and error masking (a ``RevengeError`` keeps its message and code;
anything else becomes ``INTERNAL`` and is logged with the request id).

HTTP follows the spec's content negotiation: ``application/graphql-response+json``
when the client accepts it (request errors are 400, a started execution is 200), else
legacy ``application/json`` (200 for anything well-formed, 400 for malformed requests).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Source,
    TokenKind,
    execute,
    get_operation_ast,
    parse,
    subscribe,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language.lexer import Lexer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from gateway.document_limits import MAX_JSON_DEPTH, json_depth_exceeds, measure
from gateway.fast_execution import FastExecutor
from gateway.input_checks import unstorable_text
from gateway.persisted_queries import (
    PersistedQueries,
    PersistedQueryError,
    registering_caller,
)
from infra.connection_slots import ConnectionSlots
from infra.database import database_unavailable
from infra.errors import RevengeError

__all__ = [
    "GRAPHQL_RESPONSE_JSON",
    "ContextFactory",
    "GraphQLService",
    "Operation",
    "RequestError",
    "graphql_routes",
]

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

ContextFactory = Callable[[Any, Any], Awaitable[Any]]
"""``context_factory(request_or_websocket, connection_params)``; ``connection_params``
is ``None`` over HTTP and the ``connection_init`` payload over WebSocket."""

logger = structlog.get_logger()

UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."


class RequestError(Exception):
    """The request cannot execute (parse, validation, limits, variables, transport)."""

    def __init__(
        self, message: str, code: str, *, errors: list[GraphQLError] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.errors = errors or [GraphQLError(message)]
        for error in self.errors:
            error.extensions = {**(error.extensions or {}), "code": code}

    def formatted(self) -> list[dict[str, Any]]:
        return [dict(error.formatted) for error in self.errors]


@dataclass(frozen=True)
class Operation:
    """A parsed, validated, limit-checked operation ready to execute."""

    document: DocumentNode
    definition: OperationDefinitionNode
    operation_name: str | None
    variables: dict[str, Any] | None

    @property
    def kind(self) -> OperationType:
        return self.definition.operation


class _LRU:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        if len(self.items) > self.maxsize:
            self.items.popitem(last=False)


class GraphQLService:
    """Parse → validate → limit → execute, with caches; shared by HTTP and WebSocket."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        max_depth: int = 15,
        max_tokens: int = 2000,
        max_fields: int = 5000,
        cache_size: int = 512,
    ) -> None:
        self.schema = schema
        self.max_depth = max_depth
        self.max_tokens = max_tokens
        self.max_fields = max_fields
        # document text -> DocumentNode, or the RequestError it gets (same schema, same limits)
        self._checked = _LRU(cache_size)
        # (hash or text, operation name) -> (document, operation): a persisted document's hash
        # names its text, so a hit finds its checked operation by 64 characters, never reading
        # (hashing, comparing) the text again; full text finds it by the text.
        self._operations = _LRU(cache_size)
        # Parsing and validating a new document of a few thousand tokens can take the better
        # part of a second (overlapping fields are compared pairwise): off the event loop, two
        # at a time, so a stream of new documents never stalls the requests that hit the caches.
        self._checking = ThreadPoolExecutor(2, thread_name_prefix="graphql-check")

    def check(self, query: str) -> DocumentNode:
        """The parsed document, limits checked and validated; raises ``RequestError``."""
        checked = self._checked.get(query)
        if checked is None:
            checked = self._check_uncached(query)
            self._checked.put(query, checked)
        return _document_or_raise(checked)

    async def check_off_loop(self, query: str) -> DocumentNode:
        """``check``, a document not in the cache parsed and validated in a worker thread."""
        checked = self._checked.get(query)
        if checked is None:
            loop = asyncio.get_running_loop()
            checked = await loop.run_in_executor(self._checking, self._check_uncached, query)
            self._checked.put(query, checked)
        return _document_or_raise(checked)

    async def prepare(
        self,
        query: str,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> Operation:
        """Raise ``RequestError`` unless the operation can execute as given. ``key``: the
        SHA-256 of ``query`` when the caller knows it (a persisted document), a cheaper cache
        key than the text."""
        cache_key = ("sha256", key, operation_name) if key else ("text", query, operation_name)
        found: tuple[DocumentNode, OperationDefinitionNode] | None = self._operations.get(cache_key)
        if found is None:
            document = await self.check_off_loop(query)
            definition = get_operation_ast(document, operation_name)
            if definition is None:
                message = (
                    f"Unknown operation named '{operation_name}'."
                    if operation_name
                    else "Must provide operation name if query contains multiple operations."
                )
                raise RequestError(message, "OPERATION_RESOLUTION_FAILURE")
            found = (document, definition)
            self._operations.put(cache_key, found)
        document, definition = found
        if problems := unstorable_text(document, variables):
            raise RequestError(problems[0].message, "BAD_USER_INPUT", errors=problems)
        if definition.variable_definitions:
            coerced = get_variable_values(
                self.schema, definition.variable_definitions, dict(variables or {}), max_errors=50
            )
            if isinstance(coerced, list):
                raise RequestError(coerced[0].message, "BAD_USER_INPUT", errors=coerced)
        return Operation(
            document, definition, operation_name, dict(variables) if variables else None
        )

    def _check_uncached(self, query: str) -> DocumentNode | RequestError:
        """Tokens counted, parsed, sizes measured, validated; the problem returned, not raised
        (it is cached). Touches no cache: it runs in a worker thread."""
        try:
            tokens = _count_tokens(query, self.max_tokens)
        except GraphQLError as error:
            return RequestError(error.message, "GRAPHQL_PARSE_FAILED", errors=[error])
        if tokens > self.max_tokens:
            return RequestError(
                f"The document has more than {self.max_tokens} tokens.", "QUERY_TOO_COMPLEX"
            )
        try:
            document = parse(query, max_tokens=self.max_tokens + 1)
        except GraphQLError as error:
            return RequestError(error.message, "GRAPHQL_PARSE_FAILED", errors=[error])
        return self._validate(document) or document

    def _validate(self, document: DocumentNode) -> RequestError | None:
        # Sizes first, in linear time: validation and execution only ever see documents
        # whose expansion is bounded.
        size = measure(document)
        if size.depth > self.max_depth:
            return RequestError(
                f"The query is {size.depth} levels deep; the limit is {self.max_depth}.",
                "QUERY_TOO_COMPLEX",
            )
        if size.fields > self.max_fields:
            return RequestError(
                f"The query selects more than {self.max_fields} fields once its fragments"
                " are expanded.",
                "QUERY_TOO_COMPLEX",
            )
        errors = validate(self.schema, document)
        if errors:
            return RequestError(errors[0].message, "GRAPHQL_VALIDATION_FAILED", errors=list(errors))
        return None

    async def execute(
        self, operation: Operation, context: Any, root_value: Any = None
    ) -> dict[str, Any]:
        """Run a query or mutation; the formatted response (``data`` and masked ``errors``)."""
        result = execute(
            self.schema,
            operation.document,
            root_value=root_value,
            context_value=context,
            variable_values=operation.variables,
            operation_name=operation.operation_name,
            executor_class=FastExecutor,
        )
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return self.format_result(result, context)

    async def subscribe(
        self, operation: Operation, context: Any
    ) -> AsyncIterator[ExecutionResult] | dict[str, Any]:
        """The source stream of a subscription, or a formatted error response."""
        result = subscribe(
            self.schema,
            operation.document,
            context_value=context,
            variable_values=operation.variables,
            operation_name=operation.operation_name,
        )
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ExecutionResult):
            return self.format_result(result, context)
        return result

    def format_result(self, result: ExecutionResult, context: Any) -> dict[str, Any]:
        response: dict[str, Any] = {}
        if result.errors:
            response["errors"] = [self.format_error(error, context) for error in result.errors]
        response["data"] = result.data
        return response

    def format_error(self, error: GraphQLError, context: Any) -> dict[str, Any]:
        original = error.original_error
        formatted: dict[str, Any] = dict(error.formatted)
        if isinstance(original, RevengeError):
            formatted["message"] = original.message
            formatted["extensions"] = {**original.extensions, "code": original.code}
            if original.reason is not None:  # the policy's reason: for us, not the caller
                logger.info(
                    "graphql.refused",
                    request_id=getattr(context, "request_id", None),
                    path=error.path,
                    code=original.code,
                    reason=original.reason,
                )
        elif original is None or isinstance(original, GraphQLError):
            formatted.setdefault("extensions", {}).setdefault("code", "INTERNAL")
        elif database_unavailable(original):
            logger.warning("graphql.database_unavailable", path=error.path, error=repr(original))
            formatted["message"] = UNAVAILABLE_MESSAGE
            formatted["extensions"] = {"code": "UNAVAILABLE"}
        else:
            logger.error(
                "graphql.resolver_failed",
                request_id=getattr(context, "request_id", None),
                path=error.path,
                exc_info=original,
            )
            formatted["message"] = "Internal server error"
            formatted["extensions"] = {"code": "INTERNAL"}
        return formatted


def _document_or_raise(checked: DocumentNode | RequestError) -> DocumentNode:
    if isinstance(checked, RequestError):  # a fresh exception: a cached one would keep the
        # frames of the last request that raised it in its traceback
        raise RequestError(str(checked), checked.code, errors=checked.errors)
    return checked


def _count_tokens(query: str, limit: int) -> int:
    """Tokens in ``query``, counting stops just past ``limit``; lexing errors propagate."""
    lexer = Lexer(Source(query))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
        if count > limit:
            break
    return count


# --- HTTP ------------------------------------------------------------------------------


class _Malformed(Exception):
    def __init__(
        self, message: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header, or ``None`` when none fits."""
    if not accept:
        return APPLICATION_JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media_type, _, params = part.strip().partition(";")
        media_type = media_type.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if media_type == GRAPHQL_RESPONSE_JSON:
            candidate = (quality, 2, GRAPHQL_RESPONSE_JSON)
        elif media_type in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = (quality, 1, APPLICATION_JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


_TOO_NESTED = f"The {{}} nests arrays and objects more than {MAX_JSON_DEPTH} deep."
_AUTH_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "RATE_LIMITED": 429}


def _json_response(
    body: Mapping[str, Any], status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    try:
        content = orjson.dumps(body, default=str)
    except TypeError:  # lone surrogates and other values orjson refuses: escape them
        content = json.dumps(body, separators=(",", ":"), default=str).encode()
    return Response(
        content, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers
    )


class GraphQLHTTPEndpoint:
    """The ASGI endpoint for ``GET``/``POST /graphql``."""

    def __init__(
        self,
        service: GraphQLService,
        context_factory: ContextFactory,
        *,
        dev_mode: bool,
        max_body_bytes: int,
        persisted: PersistedQueries,
    ) -> None:
        self.service = service
        self.context_factory = context_factory
        self.dev_mode = dev_mode
        self.max_body_bytes = max_body_bytes
        self.persisted = persisted

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except Exception as error:
            if not database_unavailable(error):
                raise
            # PostgreSQL is down (restarting): a retryable answer, not a 500 with a traceback.
            logger.warning("graphql.database_unavailable", error=repr(error))
            response = _json_response(
                {
                    "errors": [
                        {"message": UNAVAILABLE_MESSAGE, "extensions": {"code": "UNAVAILABLE"}}
                    ]
                },
                503,
                _negotiate(request.headers.get("accept")) or APPLICATION_JSON,
                {"Retry-After": "2"},
            )
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        accept = request.headers.get("accept")
        if request.method == "GET" and self.dev_mode and _wants_html(accept):
            return HTMLResponse(GRAPHIQL_HTML)
        media_type = _negotiate(accept)
        if media_type is None:
            return _json_response(
                {
                    "errors": [
                        {"message": f"Acceptable: {GRAPHQL_RESPONSE_JSON}, {APPLICATION_JSON}"}
                    ]
                },
                406,
                APPLICATION_JSON,
            )
        strict = media_type == GRAPHQL_RESPONSE_JSON
        try:
            params = await self._params(request)
        except _Malformed as error:
            body = {"errors": [{"message": str(error), "extensions": {"code": "BAD_REQUEST"}}]}
            return _json_response(body, error.status, media_type, error.headers)
        # Who asks comes before what: a persisted-only key may not have its text parsed at all.
        try:
            context = await self.context_factory(request, None)
        except RevengeError as error:  # credentials refused before anything ran
            status = _AUTH_STATUS.get(error.code, 400)
            body = {
                "errors": [
                    {
                        "message": error.message,
                        "extensions": {**error.extensions, "code": error.code},
                    }
                ]
            }
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return _json_response(body, status, media_type, headers)
        try:
            document = await self.persisted.resolve(
                getattr(context, "principal", None),
                params["query"],
                params["extensions"],
                params["documentId"],
            )
            operation = await self.service.prepare(
                document.text, params["operationName"], params["variables"], key=document.sha256
            )
            if operation.kind is OperationType.SUBSCRIPTION:
                raise _Malformed(
                    "Subscriptions are served over WebSocket (graphql-transport-ws) at this"
                    " path; use the WebSocket endpoint."
                )
            if request.method == "GET" and operation.kind is not OperationType.QUERY:
                raise _Malformed(
                    "Only queries may be sent with GET; send mutations with POST.",
                    405,
                    {"Allow": "POST"},
                )
        except _Malformed as error:
            body = {"errors": [{"message": str(error), "extensions": {"code": "BAD_REQUEST"}}]}
            return _json_response(body, error.status, media_type, error.headers)
        except PersistedQueryError as error:
            status = error.status or (400 if strict else 200)
            body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
            return _json_response(body, status, media_type, {"Cache-Control": "no-store"})
        except RequestError as error:
            return _json_response({"errors": error.formatted()}, 400 if strict else 200, media_type)
        if document.register is not None:
            caller = registering_caller(
                getattr(context, "principal", None),
                request.client.host if request.client else None,
            )
            await self.persisted.save(document.register, document.text, caller)
        return _json_response(await self.service.execute(operation, context), 200, media_type)

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if raw.get(name):
                    try:
                        raw[name] = json.loads(raw[name])
                    except (ValueError, RecursionError):
                        raise _Malformed(f"The {name} parameter is not valid JSON.") from None
                    if json_depth_exceeds(raw[name]):
                        raise _Malformed(_TOO_NESTED.format(f"{name} parameter"))
        else:
            raw = await self._json_body(request)
        query = raw.get("query")
        document_id = raw.get("documentId")
        if document_id is not None and not isinstance(document_id, str):
            raise _Malformed("The documentId parameter must be a string.")
        extensions = raw.get("extensions")
        hashed = document_id is not None or (
            isinstance(extensions, dict) and extensions.get("persistedQuery") is not None
        )
        if not isinstance(query, str) and not (hashed and query is None):
            raise _Malformed(
                "The query parameter must be a string."
                if "query" in raw
                else "The query parameter is missing."
            )
        operation_name = raw.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise _Malformed("The operationName parameter must be a string.")
        for name in ("variables", "extensions"):
            if raw.get(name) is not None and not isinstance(raw[name], dict):
                raise _Malformed(f"The {name} parameter must be a map.")
        return {
            "query": query,
            "operationName": operation_name or None,
            "variables": raw.get("variables"),
            "extensions": extensions,
            "documentId": document_id,
        }

    async def _json_body(self, request: Request) -> dict[str, Any]:
        content_type = request.headers.get("content-type")
        if content_type is None:
            raise _Malformed("Missing content-type; send application/json.", 415)
        media_type, _, params = content_type.partition(";")
        if media_type.strip().lower() != APPLICATION_JSON:
            raise _Malformed(
                f"Unsupported content-type {media_type.strip()!r}; send application/json.", 415
            )
        charset = next(
            (
                v.strip().strip('"').lower()
                for k, _, v in (p.partition("=") for p in params.split(";"))
                if k.strip().lower() == "charset"
            ),
            "utf-8",
        )
        if charset not in ("utf-8", "utf8"):
            raise _Malformed(f"Unsupported charset {charset!r}; send utf-8.", 415)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _Malformed(f"The body exceeds {self.max_body_bytes} bytes.", 413)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > self.max_body_bytes:
                raise _Malformed(f"The body exceeds {self.max_body_bytes} bytes.", 413)
        if not body:
            raise _Malformed("The request body is empty.")
        try:
            parsed = json.loads(body.decode("utf-8"))
        except RecursionError:  # the decoder's own guard against deep nesting
            raise _Malformed(_TOO_NESTED.format("request body")) from None
        except (UnicodeDecodeError, ValueError):
            raise _Malformed("The request body is not valid JSON.") from None
        if json_depth_exceeds(parsed):
            raise _Malformed(_TOO_NESTED.format("request body"))
        if not isinstance(parsed, dict):
            raise _Malformed("The request body must be a JSON object.")
        return parsed


def _wants_html(accept: str | None) -> bool:
    return bool(accept) and "text/html" in accept.lower()  # type: ignore[union-attr]


def graphql_routes(
    composed: Any,
    context_factory: ContextFactory,
    *,
    dev_mode: bool,
    max_depth: int = 15,
    max_tokens: int = 2000,
    max_fields: int = 5000,
    max_body_bytes: int = 1_000_000,
    allowed_origins: tuple[str, ...] = (),
    connection_init_timeout: float = 10.0,
    keepalive_seconds: float | None = 15.0,
    max_connections_per_user: int = 0,
    connection_slots: ConnectionSlots | None = None,
    recheck_seconds: float = 60.0,
    persisted: PersistedQueries | None = None,
    path: str = "/graphql",
    ws_max_operations: int = 100,
    ws_max_pending: int = 2000,
    ws_max_pending_per_address: int = 32,
) -> list[BaseRoute]:
    """``GET``/``POST`` and the graphql-transport-ws WebSocket, both at ``path``.

    ``composed`` is a ``ComposedSchema`` (or anything with a ``.schema``, or a bare
    ``GraphQLSchema``). ``persisted`` resolves hashed documents; without one, APQ documents
    live in an in-process cache only.
    """
    from gateway.graphql_ws import GraphQLTransportWS

    schema = composed if isinstance(composed, GraphQLSchema) else composed.schema
    service = GraphQLService(
        schema, max_depth=max_depth, max_tokens=max_tokens, max_fields=max_fields
    )
    persisted = persisted if persisted is not None else PersistedQueries()
    http = GraphQLHTTPEndpoint(
        service,
        context_factory,
        dev_mode=dev_mode,
        max_body_bytes=max_body_bytes,
        persisted=persisted,
    )
    websocket = GraphQLTransportWS(
        service,
        context_factory,
        allowed_origins=allowed_origins,
        connection_init_timeout=connection_init_timeout,
        keepalive_seconds=keepalive_seconds,
        max_connections_per_user=max_connections_per_user,
        connection_slots=connection_slots,
        recheck_seconds=recheck_seconds,
        persisted=persisted,
        max_operations=ws_max_operations,
        max_pending=ws_max_pending,
        max_pending_per_address=ws_max_pending_per_address,
    )
    return [
        Route(path, http, methods=["GET", "POST"]),
        WebSocketRoute(path, websocket),
    ]


GRAPHIQL_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Revenge GraphiQL</title>
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
  <script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script>
    const url = new URL(window.location.href);
    const wsUrl = (url.protocol === "https:" ? "wss://" : "ws://") + url.host + url.pathname;
    const fetcher = GraphiQL.createFetcher({ url: url.pathname, subscriptionUrl: wsUrl });
    ReactDOM.createRoot(document.getElementById("graphiql"))
      .render(React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
  </script>
</body>
</html>
"""
