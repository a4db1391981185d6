"""Attribute rules (``policies/*.rego``) evaluated in-process with regopy, or by an OPA server.

Both engines answer the same question the same way: the value of one rule, named by its data path
(``revenge/catalog/decision`` or ``data.revenge.catalog.decision``), for an ``input`` document; an
undefined rule is ``None``. ``open_policy_engine`` picks the in-process engine unless an OPA URL is
set (``REVENGE_OPA_URL``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit

import regopy
import structlog

from infra.authz.timing import DecisionTimes

log = structlog.get_logger("revenge.authz")

__all__ = [
    "DEFAULT_ENTRYPOINTS",
    "POLICIES_DIR",
    "RANKS_RULE",
    "OpaEngine",
    "PolicyEngine",
    "PolicyError",
    "RegoEngine",
    "open_policy_engine",
    "rating_ranks",
    "rule_path",
]

POLICIES_DIR = Path(__file__).resolve().parent.parent.parent / "policies"
DEFAULT_ENTRYPOINTS = (
    "revenge/catalog/allow",
    "revenge/catalog/decision",
    "revenge/catalog/visibility",
    "revenge/catalog/ranks",
    "revenge/qar/allow",
    "revenge/qar/decision",
    "revenge/entitlement/allow",
    "revenge/entitlement/decision",
)


RANKS_RULE = "revenge/catalog/ranks"


class PolicyError(Exception):
    """A policy could not be compiled or evaluated, or the OPA server did not answer."""


def rule_path(query: str) -> str:
    """``data.revenge.catalog.allow`` / ``revenge.catalog.allow`` -> ``revenge/catalog/allow``."""
    path = query.strip().removeprefix("data.").removeprefix("/")
    return path.replace(".", "/") if "/" not in path else path


class PolicyEngine(Protocol):
    times: DecisionTimes

    async def decide(self, query: str, input: Mapping[str, Any]) -> Any: ...

    async def version(self) -> Hashable:
        """Changes whenever the policies may have: answers computed under another version are
        stale (the in-process engine reloads edited files here)."""
        ...

    async def aclose(self) -> None: ...


class RegoEngine:
    """Every ``*.rego`` file of a folder, compiled once into a regopy bundle.

    Queries run against the bundle's entrypoints (``query_bundle_entrypoint``): about 0.1 ms a
    decision here, an order of magnitude faster than regopy's ad-hoc ``query``, which moreover
    answered "undefined" instead of a rule's ``default`` value (regopy 1.5.2). A rule path outside
    ``entrypoints`` is compiled in on first use. One interpreter holds the input between
    ``set_input`` and the query, so evaluation is serialised by a lock; at this cost it runs on the
    event loop without a thread.
    """

    def __init__(
        self,
        policy_dir: Path = POLICIES_DIR,
        entrypoints: Iterable[str] = DEFAULT_ENTRYPOINTS,
        *,
        reload_interval: float = 1.0,
    ) -> None:
        self._dir = policy_dir
        self._modules = self._read()
        self._lock = threading.Lock()
        self._entrypoints = frozenset(rule_path(e) for e in entrypoints)
        self._interpreter, self._bundle = self._compile(self._entrypoints)
        self._version = 0
        self._reload_interval = reload_interval
        self._checked = time.monotonic()
        self.times = DecisionTimes()

    def _read(self) -> dict[str, str]:
        modules = {
            path.name: path.read_text(encoding="utf-8") for path in sorted(self._dir.glob("*.rego"))
        }
        if not modules:
            raise PolicyError(f"no .rego files in {self._dir}")
        return modules

    async def version(self) -> int:
        """The number of reloads so far. At most once per ``reload_interval`` seconds the folder's
        ``*.rego`` files are read again (in a thread; a few kilobytes, compared by content, since
        a quick edit may keep the size and the file system's time stamp); when they changed they
        are compiled and swapped in whole. Policies that no longer compile are logged and the
        last good ones kept until the files change again."""
        now = time.monotonic()
        if now - self._checked < self._reload_interval:
            return self._version
        self._checked = now
        try:
            await asyncio.to_thread(self._reload_if_changed)
        except (PolicyError, OSError, UnicodeDecodeError) as error:
            log.warning("edited policies not loaded", error=str(error), folder=str(self._dir))
        return self._version

    def _reload_if_changed(self) -> None:
        modules = self._read()
        if modules == self._modules or modules == self._rejected:
            return
        try:
            self.reload(modules)
        except PolicyError:
            self._rejected = modules
            raise

    _rejected: dict[str, str] | None = None

    def reload(self, modules: Mapping[str, str] | None = None) -> None:
        """Compile the folder (or ``modules``) again and swap it in (blocking: call from a
        thread)."""
        modules = dict(self._read() if modules is None else modules)
        with self._lock:
            entrypoints = self._entrypoints
        interpreter, bundle = self._compile(entrypoints, modules)
        with self._lock:
            self._modules = modules
            self._interpreter, self._bundle = interpreter, bundle
            self._version += 1

    def _compile(
        self, entrypoints: frozenset[str], modules: Mapping[str, str] | None = None
    ) -> tuple[regopy.Interpreter, regopy.Bundle]:
        interpreter = regopy.Interpreter()
        try:
            for name, source in (self._modules if modules is None else modules).items():
                interpreter.add_module(name, source)
            bundle = interpreter.build(None, sorted(entrypoints))
        except regopy.RegoError as error:
            raise PolicyError(f"policies do not compile: {error}") from error
        if not bundle.ok():
            raise PolicyError("policies do not compile")
        return interpreter, bundle

    def evaluate(self, query: str, input: Mapping[str, Any]) -> Any:
        """The value of the rule at ``query`` for ``input``; ``None`` when undefined."""
        path = rule_path(query)
        with self._lock:
            if path not in self._entrypoints:
                entrypoints = self._entrypoints | {path}
                self._interpreter, self._bundle = self._compile(entrypoints)
                self._entrypoints = entrypoints
            started = time.perf_counter()
            try:
                self._interpreter.set_input(dict(input))
                output = self._interpreter.query_bundle_entrypoint(self._bundle, path)
                if not output.ok():
                    raise PolicyError(f"{path}: {output}")
                results = output.results
            except regopy.RegoError as error:
                raise PolicyError(f"{path}: {error}") from error
            finally:
                self.times.add(time.perf_counter() - started)
        if not results or not results[0].expressions:
            return None
        return results[0].expressions[0]

    async def decide(self, query: str, input: Mapping[str, Any]) -> Any:
        return self.evaluate(query, input)

    async def aclose(self) -> None:
        """Nothing to release; here for the ``PolicyEngine`` protocol."""


def _client_errors() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError


class OpaEngine:
    """Asks an OPA server: ``POST {url}/v1/data/<rule path>`` with ``{"input": …}``; the answer's
    ``result`` is the rule's value (absent when undefined).

    Sent through opa-python-client's ``AsyncOpaClient.query_rule``, as the design asks. It works on
    Python 3.11 but does not use httpx: it brings aiohttp (and requests for its sync client), its
    session must be opened inside the running loop (done on first use) and closed with ``aclose`` in
    the lifespan, and it addresses a server by scheme, host and port only -- an OPA behind a path
    prefix is refused here rather than silently misaddressed. The server must hold the same
    ``policies/*.rego`` (e.g. ``opa run --server policies/``).
    """

    def __init__(self, url: str, *, timeout: float = 1.5, retries: int = 1) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http(s)://host[:port]: {url!r}")
        if parts.path not in ("", "/"):
            raise ValueError(f"OPA URL cannot have a path prefix: {url!r}")
        secure = parts.scheme == "https"
        # Imported here: the client brings aiohttp and requests, half a second of start-up
        # that a server without an OPA URL should not pay.
        from opa_client.opa_async import AsyncOpaClient

        self._client = AsyncOpaClient(
            host=parts.hostname,
            port=parts.port or (443 if secure else 80),
            ssl=secure,
            timeout=timeout,
            retries=retries,
        )
        self._opened = False
        self.times = DecisionTimes()

    async def version(self) -> int:
        """The server's policies are not watched from here: a constant, so callers that cache
        answers bound them by time instead."""
        return 0

    async def decide(self, query: str, input: Mapping[str, Any]) -> Any:
        if not self._opened:
            await self._client.__aenter__()
            self._opened = True
        started = time.perf_counter()
        try:
            answer = await self._client.query_rule(dict(input), rule_path(query))
        except (_client_errors(), TimeoutError) as error:
            raise PolicyError(f"OPA did not answer {query}: {error!r}") from error
        finally:
            self.times.add(time.perf_counter() - started)
        if not isinstance(answer, dict):
            raise PolicyError(f"OPA answered {query} with {answer!r}")
        return answer.get("result")

    async def aclose(self) -> None:
        if self._opened:
            await self._client.close_connection()
            self._opened = False


def open_policy_engine(opa_url: str | None, policies_dir: str | None = None) -> PolicyEngine:
    """OPA when a URL is configured, the in-process regopy engine otherwise (on ``policies_dir``,
    by default the ``policies/`` folder of the source tree)."""
    if opa_url is not None:
        return OpaEngine(opa_url)
    return RegoEngine(Path(policies_dir) if policies_dir else POLICIES_DIR)


async def rating_ranks(policies: PolicyEngine) -> Mapping[str, int]:
    """The catalog policy's rating table (``ranks``): a rating, trimmed and in upper case, to its
    rank. The only rating table: the scanner stores items' ranks from it, profile limits are
    checked against it, and the policy compares the same ranks."""
    answer = await policies.decide(RANKS_RULE, {})
    if not isinstance(answer, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in answer.items()
    ):
        raise PolicyError(f"{RANKS_RULE} answered {answer!r}")
    return MappingProxyType(dict(answer))
