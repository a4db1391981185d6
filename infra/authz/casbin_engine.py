"""Roles, per-library grants and API-key scopes, decided by Casbin (pycasbin) in memory.

The model is ``policies/rbac_model.conf``; the rules are the seed ``policies/rbac_policy.csv`` plus
the rows of the ``casbin_rule`` table (the standard Casbin adapter shape: ``ptype, v0 … v5``), read
with the literal SQL below. Decisions never touch the database: ``enforce`` is a synchronous
in-memory call.

Consistency: writes through ``add_grant``/``assign_role`` (and their removals) go to the table first
and then to this process's enforcer. Other replicas learn about them with ``reload(conn)``; in a
multi-replica deployment the writer will publish an ``authz.policy_changed`` event on the bus and
every replica reloads on it (until then, call ``reload`` after a change made elsewhere). A reload
builds a new enforcer and swaps it in whole, so a decision never sees half a policy.
"""

from __future__ import annotations

import csv
import enum
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import asyncpg
import casbin
from casbin.persist.adapter import Adapter
from casbin.util import key_match

from infra.authz.timing import DecisionTimes

__all__ = [
    "ALL",
    "MODEL_PATH",
    "SEED_PATH",
    "AllLibraries",
    "CasbinEngine",
    "Rule",
    "load_rules",
    "read_seed",
    "remove_rule",
    "save_rule",
]

POLICIES_DIR = Path(__file__).resolve().parent.parent.parent / "policies"
MODEL_PATH = POLICIES_DIR / "rbac_model.conf"
SEED_PATH = POLICIES_DIR / "rbac_policy.csv"

Rule = tuple[str, ...]
"""``(ptype, v0, v1, …)`` without trailing empty fields, e.g. ``("g", "user:…", "role:guest")``."""


class AllLibraries(enum.Enum):
    ALL = "ALL"


ALL: Final = AllLibraries.ALL
"""``libraries_readable`` answer meaning "every library": no library filter in SQL."""

_FIELDS = 6


# -- the rule store (PostgreSQL)
# --------------------------------------------------------------------


def _padded(rule: Rule) -> list[str | None]:
    if not 2 <= len(rule) <= _FIELDS + 1:
        raise ValueError(f"a rule is a ptype and 1 to {_FIELDS} values: {rule!r}")
    values: list[str | None] = list(rule[1:])
    return [rule[0], *values, *([None] * (_FIELDS - len(values)))]


async def load_rules(conn: asyncpg.Connection) -> list[Rule]:
    """Every stored rule, oldest first."""
    rows = await conn.fetch("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
    rules: list[Rule] = []
    for row in rows:
        values = [row[f"v{i}"] for i in range(_FIELDS)]
        while values and values[-1] is None:
            values.pop()
        rules.append((row["ptype"], *(v or "" for v in values)))
    return rules


async def save_rule(conn: asyncpg.Connection, rule: Rule) -> bool:
    """Store a rule; ``False`` when it was already there."""
    status = await conn.execute(
        "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        *_padded(rule),
    )
    return bool(status == "INSERT 0 1")


async def remove_rule(conn: asyncpg.Connection, rule: Rule) -> bool:
    """Delete a rule; ``False`` when there was none."""
    status = await conn.execute(
        "DELETE FROM casbin_rule WHERE ptype = $1 "
        "AND v0 IS NOT DISTINCT FROM $2 AND v1 IS NOT DISTINCT FROM $3 "
        "AND v2 IS NOT DISTINCT FROM $4 AND v3 IS NOT DISTINCT FROM $5 "
        "AND v4 IS NOT DISTINCT FROM $6 AND v5 IS NOT DISTINCT FROM $7",
        *_padded(rule),
    )
    return bool(status != "DELETE 0")


def read_seed(path: Path = SEED_PATH) -> list[Rule]:
    """The seed policy file: CSV rows, ``#`` comments and blank lines skipped, fields trimmed."""
    rules: list[Rule] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, skipinitialspace=True):
            fields = [field.strip() for field in row]
            if not fields or not fields[0] or fields[0].startswith("#"):
                continue
            rules.append(tuple(fields))
    return rules


# -- the enforcer
# -----------------------------------------------------------------------------------


class _RulesAdapter(Adapter):  # type: ignore[misc]
    """Feeds a fixed list of rules to the enforcer; saving is ours to do, explicitly, in SQL."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = rules

    def load_policy(self, model: Any) -> None:
        for ptype, *values in self._rules:
            model.model[ptype[0]][ptype].policy.append(list(values))

    def add_policy(self, sec: str, ptype: str, rule: list[str]) -> None:
        """Persistence goes through ``save_rule``, not through the enforcer."""

    def remove_policy(self, sec: str, ptype: str, rule: list[str]) -> None:
        """Persistence goes through ``remove_rule``, not through the enforcer."""


def _enforcer(rules: Sequence[Rule], model_path: Path) -> casbin.Enforcer:
    return casbin.Enforcer(str(model_path), _RulesAdapter(rules))


# Published on the event bus after a rule row changes; every process reloads its enforcer, so
# a grant made through one gateway replica holds on all of them.
RULES_CHANGED_TOPIC = "authz:rules_changed"


class CasbinEngine:
    """The role-and-grant half of authorization.

    Subjects are ``user:<uuid>``, ``profile:<uuid>`` or ``role:<name>``; domains ``library:<uuid>``
    or ``global``; objects such as ``catalog``, ``playback:own``, ``qar``, ``admin:users``; actions
    ``read``/``write``.
    """

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        model_path: Path = MODEL_PATH,
        seed_path: Path | None = SEED_PATH,
    ) -> None:
        self._model_path = model_path
        self._seed: list[Rule] = read_seed(seed_path) if seed_path is not None else []
        self._enforcer = _enforcer([*self._seed, *rules], model_path)
        self.times = DecisionTimes()
        # Bumped on every change of rules, so answers derived from them can be cached.
        self.generation = 0

    @classmethod
    async def from_database(
        cls,
        conn: asyncpg.Connection,
        *,
        model_path: Path = MODEL_PATH,
        seed_path: Path | None = SEED_PATH,
    ) -> CasbinEngine:
        return cls(await load_rules(conn), model_path=model_path, seed_path=seed_path)

    async def reload(self, conn: asyncpg.Connection) -> None:
        """Rebuild from the seed and the table, then swap the enforcer in whole."""
        rules = await load_rules(conn)
        self._enforcer = _enforcer([*self._seed, *rules], self._model_path)
        self.generation += 1

    # decisions

    def enforce(self, subject: str, domain: str, obj: str, action: str) -> bool:
        started = time.perf_counter()
        try:
            return bool(self._enforcer.enforce(subject, domain, obj, action))
        finally:
            self.times.add(time.perf_counter() - started)

    def roles_for(self, subject: str) -> set[str]:
        """Role names (without ``role:``) a subject holds, directly or through other roles."""
        roles = self._enforcer.get_implicit_roles_for_user(subject)
        return {role.removeprefix("role:") for role in roles if role.startswith("role:")}

    def libraries_readable(self, subjects: Iterable[str]) -> set[str] | AllLibraries:
        """The libraries whose catalog any of ``subjects`` may read, or ``ALL``.

        A domain pattern matching every library (``*``, ``library:*``) means ``ALL``; exact
        ``library:<id>`` domains are collected; any other pattern is ignored (fails closed), since
        it cannot become a SQL filter.
        """
        libraries: set[str] = set()
        for subject in subjects:
            for _, domain, obj, action, *_rest in self._enforcer.get_implicit_permissions_for_user(
                subject
            ):
                if not (key_match("catalog", obj) and key_match("read", action)):
                    continue
                if domain in ("*", "library:*"):
                    return ALL
                if domain.startswith("library:") and "*" not in domain:
                    libraries.add(domain.removeprefix("library:"))
        return libraries

    @staticmethod
    def scope_allows(scopes: Iterable[str], required_scope: str) -> bool:
        """Whether a granted scope covers ``required_scope`` (keyMatch: ``catalog:*``, ``*``)."""
        return any(key_match(required_scope, scope) for scope in scopes)

    # changes (the table first, then this process)

    async def add_grant(
        self, conn: asyncpg.Connection, subject: str, library_id: str, action: str = "read"
    ) -> bool:
        """Let ``subject`` (``user:…``, ``profile:…``, ``role:…``) read one library's catalog."""
        return await self._add(conn, ("p", subject, f"library:{library_id}", "catalog", action))

    async def remove_grant(
        self, conn: asyncpg.Connection, subject: str, library_id: str, action: str = "read"
    ) -> bool:
        return await self._remove(conn, ("p", subject, f"library:{library_id}", "catalog", action))

    async def assign_role(self, conn: asyncpg.Connection, subject: str, role: str) -> bool:
        return await self._add(conn, ("g", subject, f"role:{role}"))

    async def unassign_role(self, conn: asyncpg.Connection, subject: str, role: str) -> bool:
        return await self._remove(conn, ("g", subject, f"role:{role}"))

    async def _add(self, conn: asyncpg.Connection, rule: Rule) -> bool:
        stored = await save_rule(conn, rule)
        ptype, *values = rule
        if ptype.startswith("g"):
            self._enforcer.add_named_grouping_policy(ptype, *values)
        else:
            self._enforcer.add_named_policy(ptype, *values)
        self.generation += 1
        return stored

    async def _remove(self, conn: asyncpg.Connection, rule: Rule) -> bool:
        removed = await remove_rule(conn, rule)
        ptype, *values = rule
        if ptype.startswith("g"):
            self._enforcer.remove_named_grouping_policy(ptype, *values)
        else:
            self._enforcer.remove_named_policy(ptype, *values)
        self.generation += 1
        return removed
