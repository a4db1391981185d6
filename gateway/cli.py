"""The ``revenge`` command line: serve, worker-less maintenance, and the naming tool."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.errors import RevengeError
from infra.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="revenge",
    help="Revenge: a self-hosted media server with a federated GraphQL API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"revenge: {error}", err=True)
        raise typer.Exit(2) from None
    changes = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(settings, **changes) if changes else settings


def _run(coroutine: Callable[[], Coroutine[Any, Any, int]]) -> None:
    try:
        code = asyncio.run(coroutine())
    except RevengeError as error:
        typer.echo(f"revenge: {error.message}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def serve(
    library: Annotated[
        list[str] | None,
        typer.Option("--library", "-l", help="KIND:PATH (movies, tv, music); repeatable"),
    ] = None,
    host: Annotated[str | None, typer.Option(help="overrides REVENGE_SERVER_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="overrides REVENGE_SERVER_PORT")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, max=256, help="server processes; overrides REVENGE_SERVER_WORKERS"),
    ] = None,
) -> None:
    """Run the gateway with every subgraph in-process (embedded PostgreSQL by default), in one
    process per core unless told otherwise."""
    from gateway.serve import run_server
    from resolvers.catalog.bootstrap import parse_library_spec

    settings = _settings(server_host=host, server_port=port, server_workers=workers)
    try:
        specs = [parse_library_spec(text) for text in library or []]
    except RevengeError as error:
        typer.echo(f"revenge: {error.message}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run_server(settings, specs))


@app.command()
def worker() -> None:
    """Run a worker: takes queued scans from the shared database until SIGINT/SIGTERM."""
    from gateway.serve import run_worker

    settings = _settings()
    _run(lambda: run_worker(settings))


@app.command()
def migrate(
    direction: Annotated[str, typer.Argument(help="up, down or status")] = "up",
    steps: Annotated[int, typer.Option(help="how many migrations 'down' reverts")] = 1,
) -> None:
    """Apply, revert or list database migrations."""
    from infra.database import open_database
    from infra.migrations import migrate_down, migrate_status, migrate_up

    if direction not in ("up", "down", "status"):
        typer.echo("revenge: migrate takes up, down or status", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def main() -> int:
        database = await open_database(settings, migrate=False)
        try:
            async with database.pool.acquire() as conn:
                if direction == "up":
                    applied = await migrate_up(conn)
                    typer.echo(f"applied: {applied or 'nothing to do'}")
                elif direction == "down":
                    reverted = await migrate_down(conn, steps)
                    typer.echo(f"reverted: {reverted or 'nothing to do'}")
                else:
                    for status in await migrate_status(conn):
                        mark = "applied" if status.applied else "pending"
                        typer.echo(f"{status.version:06d}  {status.name:40s} {mark}")
        finally:
            await database.close()
        return 0

    _run(main)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option(help="where to write (default: schema.graphql)")
    ] = None,
    check: Annotated[bool, typer.Option(help="exit 1 if the file is stale")] = False,
) -> None:
    """Write the composed public schema (schema.graphql)."""
    from gateway.schema import SCHEMA_FILE, composed_schema

    target = output or SCHEMA_FILE
    sdl = composed_schema().sdl()
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != sdl:
            typer.echo(f"{target} is stale: run 'revenge schema'", err=True)
            raise typer.Exit(1)
        typer.echo(f"{target} is up to date")
        return
    target.write_text(sdl, encoding="utf-8")
    typer.echo(f"wrote {target}")


@app.command()
def subgraph(
    name: Annotated[str, typer.Argument(help="catalog, …")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 4001,
    host: Annotated[str | None, typer.Option(help="overrides REVENGE_SERVER_HOST")] = None,
) -> None:
    """Serve one subgraph alone as a federation service (_service, _entities)."""
    from gateway.serve import run_subgraph

    settings = _settings(server_host=host, server_port=port)
    raise typer.Exit(run_subgraph(settings, name))


@app.command()
def scan(
    library: Annotated[str, typer.Argument(help="library name or id")],
    full: Annotated[bool, typer.Option(help="probe every file again")] = False,
) -> None:
    """Scan one library now and show its progress."""
    from gateway.scan_cli import scan_once

    settings = _settings()
    _run(lambda: scan_once(settings, library, full=full))


@app.command()
def naming(
    paths: Annotated[list[str], typer.Argument(help="paths to identify")],
    kind: Annotated[str, typer.Option(help="movies, tv or music")] = "movies",
    root: Annotated[str | None, typer.Option(help="the library root the paths sit under")] = None,
) -> None:
    """Print how each path would be identified, one JSON object per line."""
    from media.naming import LibraryKind, identify

    try:
        library_kind = LibraryKind(kind)
    except ValueError:
        typer.echo("revenge: --kind must be movies, tv or music", err=True)
        raise typer.Exit(2) from None
    for path in paths:
        typer.echo(identify(os.path.abspath(path) if root else path, library_kind, root).to_json())


admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    name: Annotated[str, typer.Option(help="the administrator's user name")],
    password: Annotated[str, typer.Option(help="at least 8 characters")],
    api_key: Annotated[
        bool, typer.Option("--api-key", help="also mint an admin API key (printed last)")
    ] = False,
) -> None:
    """Create an administrator (works beside a running server on the same data dir)."""
    from gateway.admin_cli import create_admin

    settings = _settings()

    async def main() -> int:
        key = await create_admin(settings, name, password, api_key=api_key)
        typer.echo(f"created administrator {name!r}")
        if key is not None:
            typer.echo("API key (shown once):")
            typer.echo(key)
        return 0

    _run(main)


keys_app = typer.Typer(help="Access-token signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key from now on; the previous key verifies the tokens it signed until
    they expire. Running servers on the same data dir pick the new key up at once."""
    from infra.key_rotation import TOKEN_LIFETIME_SECONDS, key_ring_path
    from infra.tokens import KeyRing

    ring = KeyRing.open(key_ring_path(_settings().data_dir))
    previous = ring.current_kid
    kid = ring.rotate(grace_seconds=TOKEN_LIFETIME_SECONDS)
    typer.echo(f"signing with {kid}; {previous} verifies for {TOKEN_LIFETIME_SECONDS} s more")


@keys_app.command("list")
def keys_list() -> None:
    """The keys: kid, created, verifying until (current: signing)."""
    from datetime import UTC, datetime

    from infra.key_rotation import key_ring_path
    from infra.tokens import KeyRing

    def when(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")

    for key in KeyRing.open(key_ring_path(_settings().data_dir)).keys():
        until = "signing" if key.is_current else f"verifies until {when(key.verify_until or 0)}"
        typer.echo(f"{key.kid}  created {when(key.created_at)}  {until}")


@keys_app.command("drop")
def keys_drop(kid: Annotated[str, typer.Argument(help="a retired key's kid")]) -> None:
    """Forget a retired key now (after a leak): the tokens it signed stop working at once."""
    from infra.key_rotation import key_ring_path
    from infra.tokens import KeyRing, KeyRingError

    ring = KeyRing.open(key_ring_path(_settings().data_dir))
    if kid not in ring.kids:
        typer.echo(f"revenge: no key {kid!r}", err=True)
        raise typer.Exit(2)
    try:
        ring.drop(kid)
    except KeyRingError as error:
        typer.echo(f"revenge: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"dropped {kid}")


def main() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers, CI); the embedded
    # PostgreSQL copes without it, and the warning would only confuse.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
