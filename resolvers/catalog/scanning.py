"""Library scans: walk, diff against what is stored, probe what changed, write, report.

A scan is incremental: a file whose path, size and mtime are unchanged is not probed again; a
file that vanished and reappears elsewhere with the same fingerprint keeps its item; a file
that vanished is marked missing, never deleted, and only when its root walked cleanly (an
unplugged disk does not empty a library). Files land in batches, one transaction each, so a
scan killed half way keeps what it wrote and the next scan carries on from there.

Scans run as jobs on the job queue (``scan_jobs``), on whichever worker takes them; progress goes
to the ``library_scans`` row and to the bus topic ``library_scan:<library id>``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from infra.authz.rego_engine import PolicyEngine, RegoEngine, rating_ranks
from infra.bus import EventBus
from infra.server_events import publish_server_event
from media.analyze import Analysis
from media.images import ImageError, inspect_image
from media.naming import LibraryKind, identify
from media.nfo import NfoError, parse_nfo
from media.probe import ProbeError
from media.probe_pool import ProbePool
from media.scanner import KnownFile, ScanPlan, SidecarAssignment, plan_scan, plan_sidecars
from media.walk import WalkEntry, WalkProblem, check_root, walk_library
from resolvers.catalog.scan_sidecars import (
    ItemTree,
    apply_image,
    apply_nfo,
    apply_subtitle,
    load_item_tree,
    rerank,
)
from resolvers.catalog.scan_store import (
    ContainerCache,
    insert_file,
    load_known_files,
    mark_missing,
    mark_present,
    move_file,
    refresh_items,
    refresh_ratings,
    update_file,
)

__all__ = ["FINISHED", "LibraryScanner", "scan_event"]

log = structlog.get_logger("revenge.scan")

BATCH_SIZE = 32
PROGRESS_INTERVAL_S = 0.25
FINISHED = ("completed", "failed", "interrupted")


def scan_event(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """A library_scans row as a JSON-safe bus event."""
    event: dict[str, Any] = {}
    for key, value in dict(row).items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        event[key] = value
    return event


@dataclass(slots=True)
class _Progress:
    seen: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    current_path: str | None = None
    last_sent: float = 0.0


@dataclass(slots=True)
class _Library:
    id: uuid.UUID
    kind: str
    roots: list[str]
    last_scan_started: datetime | None


@dataclass(slots=True)
class _Run:
    scan_id: uuid.UUID
    library: _Library
    full: bool
    progress: _Progress = field(default_factory=_Progress)
    touched_folders: set[bytes] = field(default_factory=set)


class LibraryScanner:
    """Runs one claimed scan from walk to finish; the scan service decides which and when."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: EventBus,
        probes: Callable[[], ProbePool[Analysis]],
        policies: PolicyEngine | None = None,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._probes = probes
        # Where ratings' ranks come from (the catalog policy's table); the shipped policies when
        # none is given.
        self._policies = policies
        self._image_slots = asyncio.Semaphore(2)

    async def run(self, scan_id: uuid.UUID, library_id: uuid.UUID, full: bool) -> None:
        """Scan to the end. Cancelled, it leaves the row for the service to hand back."""
        run: _Run | None = None
        try:
            library = await self._load_library(library_id, scan_id)
            run = _Run(scan_id, library, full)
            await self._scan(run)
            await self._finish(run, "completed", None)
        except asyncio.CancelledError:
            if run is not None:
                await asyncio.shield(self._report(run, force=True))
            raise
        except Exception as error:
            log.exception("scan failed", scan_id=str(scan_id))
            message = str(error) if isinstance(error, _ScanProblem) else "scan failed unexpectedly"
            await self._finish_by_id(scan_id, run, "failed", message)

    async def _load_library(self, library_id: uuid.UUID, scan_id: uuid.UUID) -> _Library:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT l.id, l.kind, l.root_paths, "
                "(SELECT max(started_at) FROM library_scans s WHERE s.library_id = l.id "
                " AND s.status = 'completed') AS last_started FROM libraries l WHERE l.id = $1",
                library_id,
            )
            scan = await conn.fetchrow("SELECT * FROM library_scans WHERE id = $1", scan_id)
        if row is None:
            raise _ScanProblem("library was deleted")
        if scan is not None:
            await self._bus.publish(f"library_scan:{library_id}", scan_event(scan))
        return _Library(row["id"], row["kind"], list(row["root_paths"]), row["last_started"])

    async def _scan(self, run: _Run) -> None:
        healthy: list[str] = []
        for root in run.library.roots:
            reason = check_root(root)
            if reason is None:
                healthy.append(root)
            else:
                log.warning("library folder unavailable", root=root, reason=reason)
        if not healthy:
            raise _ScanProblem(
                "no library folder is reachable: "
                + "; ".join(f"{r}: {check_root(r)}" for r in run.library.roots)
            )
        entries = await asyncio.to_thread(_walk, healthy)
        async with self._pool.acquire() as conn:
            known = await load_known_files(conn, run.library.id)
        plan = plan_scan(known, entries, healthy, full=run.full)
        run.progress.seen = len(plan.unchanged) + len(plan.reappeared) + len(plan.changed)
        run.progress.seen += len(plan.new)
        await self._report(run, force=True)
        async with self._pool.acquire() as conn:
            if plan.reappeared:
                async with conn.transaction():
                    await mark_present(conn, [f.id for f in plan.reappeared])
                    await refresh_items(conn, [f.item_id for f in plan.reappeared])
        vanished = await self._write_media(run, plan, healthy)
        if vanished:
            async with self._pool.acquire() as conn, conn.transaction():
                await mark_missing(conn, [f.id for f in vanished])
                await refresh_items(conn, [f.item_id for f in vanished])
            run.progress.removed = len(vanished)
        await self._sidecars(run, plan, healthy, entries)

    async def _write_media(
        self, run: _Run, plan: ScanPlan, roots: Sequence[str]
    ) -> list[KnownFile]:
        """Probe and store new and changed files; returns the vanished files not moved."""
        by_fingerprint: dict[tuple[str, int], KnownFile] = {
            (f.oshash, f.size): f for f in plan.vanished if f.oshash
        }
        work: list[tuple[KnownFile | None, WalkEntry]] = list(plan.changed)
        work += [(None, e) for e in plan.new]
        cache = ContainerCache()
        batches = [work[i : i + BATCH_SIZE] for i in range(0, len(work), BATCH_SIZE)]
        pending = self._analyze(batches[0]) if batches else None
        for index, _batch in enumerate(batches):
            assert pending is not None
            analyses = await pending
            pending = self._analyze(batches[index + 1]) if index + 1 < len(batches) else None
            await self._store_batch(run, analyses, by_fingerprint, cache, roots)
            await self._report(run)
        moved = {f.id for f in by_fingerprint.values()}
        return [f for f in plan.vanished if f.id in moved or not f.oshash]

    def _analyze(
        self, batch: list[tuple[KnownFile | None, WalkEntry]]
    ) -> asyncio.Future[list[tuple[KnownFile | None, WalkEntry, Analysis]]]:
        probes = self._probes()

        async def one(
            known: KnownFile | None, entry: WalkEntry
        ) -> tuple[KnownFile | None, WalkEntry, Analysis]:
            try:
                analysis = await probes.probe(entry.path)
            except ProbeError as error:
                analysis = Analysis(probe=None, error=str(error), oshash=None, tags=None)
            return known, entry, analysis

        return asyncio.ensure_future(_gather([one(k, e) for k, e in batch]))

    async def _store_batch(
        self,
        run: _Run,
        analyses: list[tuple[KnownFile | None, WalkEntry, Analysis]],
        by_fingerprint: dict[tuple[str, int], KnownFile],
        cache: ContainerCache,
        roots: Sequence[str],
    ) -> None:
        progress = run.progress
        touched: list[uuid.UUID | str] = []
        added: list[uuid.UUID] = []  # items with a file never seen before
        kind = LibraryKind(run.library.kind)
        async with self._pool.acquire() as conn, conn.transaction():
            for known, entry, analysis in analyses:
                progress.current_path = entry.path
                run.touched_folders.add(os.path.dirname(entry.raw_path))
                if analysis.error is not None:
                    progress.failed += 1
                if known is not None:
                    await update_file(conn, known, entry, analysis)
                    touched.append(known.item_id)
                    progress.changed += 1
                    continue
                twin = (
                    by_fingerprint.pop((analysis.oshash, entry.size), None)
                    if (analysis.oshash)
                    else None
                )
                if twin is not None:
                    await move_file(conn, twin, entry, analysis)
                    touched.append(twin.item_id)
                    progress.moved += 1
                    continue
                ident = identify(entry.path, kind, _root_of(entry.path, roots))
                if ident.ignored:
                    continue
                item_id = await insert_file(
                    conn, cache, run.library.id, run.library.kind, entry, ident, analysis
                )
                touched.append(item_id)
                if item_id not in added:
                    added.append(item_id)
                progress.new += 1
            await refresh_items(conn, touched)
        for item_id in added:  # stored now: listeners may read them
            data = {"itemId": str(item_id), "libraryId": str(run.library.id)}
            await publish_server_event(self._bus, "library.new_item", data)

    async def _sidecars(
        self, run: _Run, plan: ScanPlan, roots: Sequence[str], entries: Sequence[WalkEntry]
    ) -> None:
        since_ns = 0
        if run.library.last_scan_started is not None and not run.full:
            since_ns = int(run.library.last_scan_started.timestamp() * 1e9)
        async with self._pool.acquire() as conn:
            tree = await load_item_tree(conn, run.library.id, roots)
            fresh = [
                e
                for e in plan.sidecars
                if e.mtime_ns >= since_ns or os.path.dirname(e.raw_path) in run.touched_folders
            ]
            assignments = plan_sidecars(fresh, tree.by_path.keys())
            if self._policies is None:
                self._policies = await asyncio.to_thread(RegoEngine)
            ranks = await rating_ranks(self._policies)
            touched: set[uuid.UUID] = set()
            for assignment in assignments:
                item_id = self._target(run, tree, assignment)
                if item_id is None:
                    continue
                if await self._apply_sidecar(conn, tree, assignment, item_id, ranks):
                    touched.add(item_id)
            image_paths = [e.raw_path for e in plan.sidecars if e.category == "image"]
            await conn.execute(
                "DELETE FROM media_images m USING media_items i WHERE i.id = m.item_id "
                "AND i.library_id = $1 AND NOT (m.raw_path = ANY($2::bytea[]))",
                run.library.id,
                image_paths,
            )
            await refresh_items(conn, touched)
            await rerank(conn, run.library.id, ranks)
            await refresh_ratings(conn, run.library.id)

    def _target(self, run: _Run, tree: ItemTree, assignment: SidecarAssignment) -> uuid.UUID | None:
        if assignment.media_path is not None:
            placed = tree.item_for_file(assignment.media_path)
            return placed.item_id if placed is not None else None
        if assignment.sidecar.category == "subtitle":
            return None
        return tree.item_for_folder(assignment.folder, run.library.kind, assignment.sidecar.season)

    async def _apply_sidecar(
        self,
        conn: asyncpg.Connection,
        tree: ItemTree,
        assignment: SidecarAssignment,
        item_id: uuid.UUID,
        ranks: Mapping[str, int],
    ) -> bool:
        path = assignment.entry.path
        category = assignment.sidecar.category
        try:
            if category == "image":
                async with self._image_slots:
                    info = await asyncio.to_thread(inspect_image, path)
                await apply_image(conn, item_id, assignment, info)
            elif category == "nfo":
                nfo = await asyncio.to_thread(parse_nfo, path)
                await apply_nfo(conn, item_id, nfo, ranks)
            elif category == "subtitle" and assignment.media_path is not None:
                placed = tree.item_for_file(assignment.media_path)
                if placed is None:
                    return False
                await apply_subtitle(conn, placed.file_id, assignment)
            return True
        except (ImageError, NfoError, OSError) as error:
            log.warning("sidecar skipped", path=path, reason=str(error))
            return False

    # -- progress ----------------------------------------------------------------------

    async def _report(self, run: _Run, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - run.progress.last_sent < PROGRESS_INTERVAL_S:
            return
        run.progress.last_sent = now
        p = run.progress
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE library_scans SET files_seen = $2, files_new = $3, files_changed = $4, "
                "files_moved = $5, files_removed = $6, files_failed = $7, current_path = $8, "
                "heartbeat_at = now() WHERE id = $1 RETURNING *",
                run.scan_id,
                p.seen,
                p.new,
                p.changed,
                p.moved,
                p.removed,
                p.failed,
                _printable(p.current_path),
            )
        if row is not None:
            await self._bus.publish(f"library_scan:{run.library.id}", scan_event(row))

    async def _finish(self, run: _Run, status: str, error: str | None) -> None:
        await self._report(run, force=True)
        await self._finish_by_id(run.scan_id, run, status, error)

    async def _finish_by_id(
        self, scan_id: uuid.UUID, run: _Run | None, status: str, error: str | None
    ) -> None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE library_scans SET status = $2, error = $3, finished_at = now(), "
                "current_path = NULL, worker_id = NULL, heartbeat_at = NULL "
                "WHERE id = $1 RETURNING *",
                scan_id,
                status,
                error,
            )
            if row is not None and status == "completed":
                await conn.execute(
                    "UPDATE libraries SET last_scan_at = now() WHERE id = $1", row["library_id"]
                )
        if row is not None:
            await self._bus.publish(f"library_scan:{row['library_id']}", scan_event(row))
        log.info("scan finished", scan_id=str(scan_id), status=status, error=error)


class _ScanProblem(Exception):
    """A scan cannot go on; the message is shown on the scan."""


async def _gather(
    coroutines: list[Any],
) -> list[tuple[KnownFile | None, WalkEntry, Analysis]]:
    return list(await asyncio.gather(*coroutines))


def _walk(roots: list[str]) -> list[WalkEntry]:
    entries: list[WalkEntry] = []
    for found in walk_library(roots):
        if isinstance(found, WalkProblem):
            log.warning("skipped while walking", path=_printable(found.path), reason=found.reason)
        else:
            entries.append(found)
    return entries


def _root_of(path: str, roots: Sequence[str]) -> str | None:
    for root in roots:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return root
    return None


def _printable(path: str | None) -> str | None:
    if path is None:
        return None
    return os.fsencode(path).decode("utf-8", errors="replace")
