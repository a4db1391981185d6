"""Authorization engines: Casbin for roles and grants, Rego (regopy or OPA) for attribute rules."""

from infra.authz.casbin_engine import ALL, AllLibraries, CasbinEngine
from infra.authz.principal import ANONYMOUS, AuthMethod, Principal
from infra.authz.rego_engine import (
    OpaEngine,
    PolicyEngine,
    PolicyError,
    RegoEngine,
    open_policy_engine,
)
from infra.authz.service import (
    Action,
    AuthorizationService,
    Decision,
    Resource,
    VisibilityFilter,
)

__all__ = [
    "ALL",
    "ANONYMOUS",
    "Action",
    "AllLibraries",
    "AuthMethod",
    "AuthorizationService",
    "CasbinEngine",
    "Decision",
    "OpaEngine",
    "PolicyEngine",
    "PolicyError",
    "Principal",
    "RegoEngine",
    "Resource",
    "VisibilityFilter",
    "open_policy_engine",
]
