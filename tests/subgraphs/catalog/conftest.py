"""Running operations through the catalog subgraph with a real request context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.principal import Principal
from infra.authz.rego_engine import RegoEngine
from infra.authz.service import AuthorizationService, VisibilityFilter
from infra.bus import InProcessBus
from infra.settings import load_settings
from loaders import Loaders
from loaders.context import Context
from loaders.visibility import EVERYTHING
from subgraphs.catalog.schema import schema

Execute = Callable[..., Any]


# The real authorization service: seed roles and scopes, Rego policies in-process.
AUTHZ = AuthorizationService(CasbinEngine(), RegoEngine())

ADMIN = Principal(
    user_id="00000000-0000-7000-8000-00000000000a",
    roles=frozenset({"admin"}),
    scopes=frozenset({"admin:*", "catalog:read", "catalog:write"}),
    auth_method="jwt",
)


def make_context(
    pool: Any,
    tmp_path: Path,
    bus: InProcessBus | None = None,
    *,
    principal: Principal = ADMIN,
    visibility: VisibilityFilter = EVERYTHING,
    **services: Any,
) -> Context:
    """A fresh context (fresh loaders), as the gateway builds one per request; an
    administrator who sees everything unless the test says otherwise."""
    return Context(
        pool=pool,
        loaders=Loaders(pool, visibility),
        bus=bus or InProcessBus(),
        settings=load_settings({"REVENGE_DATA_DIR": str(tmp_path / "data")}),
        services={"authz": AUTHZ, **services},
        request_id="test-request",
        principal=principal,
    )


@pytest.fixture
def execute(pool: asyncpg.Pool, tmp_path: Path) -> Execute:
    """``await execute(query, **variables)`` → the ExecutionResult, in a fresh context."""

    async def run(query: str, /, context: Context | None = None, **variables: Any) -> Any:
        return await schema.execute(
            query,
            variable_values=variables,
            context_value=context or make_context(pool, tmp_path),
        )

    return run


def error_codes(result: Any) -> list[str | None]:
    return [(error.extensions or {}).get("code") for error in result.errors or []]
