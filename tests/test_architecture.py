"""The house rules of ARCHITECTURE.md that a machine can check: imports point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("gateway", "subgraphs", "resolvers", "loaders", "media", "infra")
ALLOWED = {
    "gateway": {"gateway", "subgraphs", "resolvers", "loaders", "media", "infra"},
    "subgraphs": {"subgraphs", "resolvers", "loaders", "media", "infra"},
    "resolvers": {"resolvers", "loaders", "media", "infra"},
    "loaders": {"loaders", "infra"},
    "media": {"media", "infra.settings"},
    "infra": {"infra"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in ROOMS}


def allowed(room: str, module: str) -> bool:
    return any(module == rule or module.startswith(rule + ".") for rule in ALLOWED[room])


def test_imports_point_down_only() -> None:
    offences = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            for module in sorted(imports_of(path)):
                if not allowed(room, module):
                    offences.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offences == []


def test_a_subgraph_never_imports_another_subgraph() -> None:
    offences = []
    for package in sorted(p for p in (ROOT / "subgraphs").iterdir() if p.is_dir()):
        if package.name.startswith("__"):
            continue
        for path in sorted(package.rglob("*.py")):
            for module in imports_of(path):
                parts = module.split(".")
                if parts[0] == "subgraphs" and len(parts) > 1 and parts[1] != package.name:
                    offences.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offences == []


def test_no_sql_outside_resolvers_loaders_infra_and_migrations() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM")
    offences = []
    for room in ("gateway", "subgraphs", "media"):
        for path in sorted((ROOT / room).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            offences += [f"{path.relative_to(ROOT)}: {k.strip()}" for k in keywords if k in text]
    assert offences == []


def test_migrations_come_in_up_and_down_pairs() -> None:
    names = sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    ups = {n.removesuffix(".up.sql") for n in names if n.endswith(".up.sql")}
    downs = {n.removesuffix(".down.sql") for n in names if n.endswith(".down.sql")}
    assert ups == downs
    assert ups


def test_docker_compose_has_postgres_redis_gateway_and_worker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "gateway", "worker"}
    assert services["gateway"]["command"] == ["revenge", "serve"]
    assert services["worker"]["command"] == ["revenge", "worker"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".", "$")):
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
    gateway_env = services["gateway"]["environment"]
    assert gateway_env["REVENGE_DATABASE_URL"].startswith("postgresql://")
    assert gateway_env["REVENGE_CACHE_URL"].startswith("redis://")


def test_every_declared_dependency_is_imported() -> None:
    """A package in ``project.dependencies`` that no module imports is dead weight in the lock."""
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {Requirement(spec).name.lower().replace("_", "-") for spec in declared["dependencies"]}
    imported: set[str] = set()
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module.split(".")[0])
    providers = packages_distributions()
    used = {
        dist.lower().replace("_", "-") for module in imported for dist in providers.get(module, [])
    }
    assert sorted(wanted - used) == []
