"""Running operations through the user subgraph alone, as a signed-in (or anonymous) caller.

The context is the real one the gateway builds: a real key ring, the in-process limiter, the
migrated pool; a caller's access token or API key becomes the principal through the same
functions the gateway uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.rego_engine import RegoEngine
from infra.authz.service import AuthorizationService
from infra.bus import InProcessBus
from infra.ratelimit import InProcessLimiter
from infra.settings import load_settings
from infra.tokens import KeyRing, verify_access_token
from loaders import Loaders
from loaders.context import Context
from resolvers.user.principals import principal_for_access_token, principal_for_api_key
from subgraphs.user.schema import schema

ADMIN_NAME = "admin"
ADMIN_PASSWORD = "correct horse battery"

SIGN_IN_FIELDS = """
  __typename
  ... on SignInPayload { accessToken refreshToken expiresIn user { id name roles } }
  ... on AuthError { code message field }
"""


# The real authorization service (seed roles and scopes; no Rego rule governs accounts).
AUTHZ = AuthorizationService(CasbinEngine(), RegoEngine())


@dataclass
class Api:
    pool: Any
    tmp_path: Path
    ring: KeyRing
    limiter: InProcessLimiter

    async def context(
        self, token: str | None = None, api_key: str | None = None, address: str = "192.0.2.1"
    ) -> Context:
        context = Context(
            pool=self.pool,
            loaders=Loaders(self.pool),
            bus=InProcessBus(),
            settings=load_settings({"REVENGE_DATA_DIR": str(self.tmp_path)}),
            services={"key_ring": self.ring, "limiter": self.limiter, "authz": AUTHZ},
            request_id="test-request",
            client_address=address,
        )
        if token is not None:
            claims = verify_access_token(self.ring, token)
            context.principal = await principal_for_access_token(self.pool, claims)
            context.session_id = claims.session_id
        elif api_key is not None:
            context.principal = await principal_for_api_key(self.pool, api_key)
        return context

    async def run(
        self,
        query: str,
        /,
        *,
        token: str | None = None,
        api_key: str | None = None,
        address: str = "192.0.2.1",
        **variables: Any,
    ) -> Any:
        return await schema.execute(
            query,
            variable_values=variables,
            context_value=await self.context(token, api_key, address),
        )

    async def data(self, query: str, /, **kwargs: Any) -> Any:
        result = await self.run(query, **kwargs)
        assert result.errors is None, result.errors
        return result.data

    async def sign_in(self, name: str, password: str, **arguments: Any) -> dict[str, Any]:
        data = await self.data(
            "mutation($name: String!, $password: String!, $secondFactor: String, "
            "$device: String) { signIn(name: $name, password: $password, "
            "secondFactor: $secondFactor, device: $device) {" + SIGN_IN_FIELDS + "} }",
            name=name,
            password=password,
            **arguments,
        )
        result: dict[str, Any] = data["signIn"]
        return result

    async def setup_admin(self) -> dict[str, Any]:
        data = await self.data(
            "mutation($name: String!, $password: String!) "
            "{ setup(name: $name, password: $password) {" + SIGN_IN_FIELDS + "} }",
            name=ADMIN_NAME,
            password=ADMIN_PASSWORD,
        )
        assert data["setup"]["__typename"] == "SignInPayload", data
        result: dict[str, Any] = data["setup"]
        return result

    async def create_user(
        self, admin_token: str, name: str, password: str, roles: tuple[str, ...] = ("USER",)
    ) -> str:
        data = await self.data(
            "mutation($input: CreateUserInput!) { createUser(input: $input) { __typename "
            "... on CreateUserPayload { user { id } } ... on AuthError { code message } } }",
            token=admin_token,
            input={"name": name, "password": password, "roles": list(roles)},
        )
        assert data["createUser"]["__typename"] == "CreateUserPayload", data
        user_id: str = data["createUser"]["user"]["id"]
        return user_id


@pytest.fixture
def api(pool: asyncpg.Pool, tmp_path: Path) -> Api:
    return Api(pool, tmp_path, KeyRing.open(tmp_path / "keys.json"), InProcessLimiter())


def error_codes(result: Any) -> list[str | None]:
    return [(error.extensions or {}).get("code") for error in result.errors or []]
