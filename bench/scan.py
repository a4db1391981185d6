"""Scan benchmark: a generated library of real media files (movies, episodes, tracks).

Prints the initial scan rate (files/s, probing included, on this machine's cores) and the time
of an unchanged rescan. Targets: >= 100 files/s initial; unchanged rescan of 2,000 files <= 2 s.

    ./dev bench scan [--files 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

from _support import ROOT, bench_database_and_url, figure, median

from infra.bus import InProcessBus
from infra.jobs import open_job_queue
from infra.logging import configure_logging
from resolvers.catalog import scan_jobs
from resolvers.catalog.scan_service import ScanService
from tests.support.media_files import make_audio, make_video

CACHE = Path(os.environ.get("REVENGE_BENCH_CACHE", "/tmp/revenge-bench-media"))


def generate(files: int) -> dict[str, Path]:
    """Make (once, cached) a third movies, a third episodes, a third tracks."""
    base = CACHE / f"library-{files}"
    roots = {"movies": base / "movies", "tv": base / "tv", "music": base / "music"}
    done = base / ".complete"
    if done.exists():
        return roots
    per_kind = files // 3
    for n in range(per_kind):
        folder = roots["movies"] / f"Film Number {n:04d} ({1950 + n % 70})"
        folder.mkdir(parents=True, exist_ok=True)
        make_video(folder / f"{folder.name}.mkv", seconds=0.2, width=160, height=120)
    for n in range(per_kind):
        show, season, episode = n // 100, (n // 10) % 10 + 1, n % 10 + 1
        folder = roots["tv"] / f"Show {show:02d}" / f"Season {season:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"Show {show:02d} S{season:02d}E{episode:02d}.mp4"
        make_video(folder / name, seconds=0.2, width=160, height=120)
    for n in range(files - 2 * per_kind):
        folder = roots["music"] / f"Artist {n // 100:02d}" / f"Album {n // 10:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        make_audio(
            folder / f"{n % 10 + 1:02d} - Track {n}.mp3",
            seconds=0.2,
            tags={
                "title": f"Track {n}",
                "artist": f"Artist {n // 100:02d}",
                "album": f"Album {n // 10:03d}",
                "tracknumber": str(n % 10 + 1),
            },
        )
    done.touch()
    return roots


async def one_run(roots: dict[str, Path], files: int) -> tuple[float, float]:
    async with bench_database_and_url() as (pool, url):
        jobs = await open_job_queue(url, {scan_jobs.NAMESPACE: scan_jobs.blueprint()})
        service = ScanService(
            pool, InProcessBus(), jobs, probe_workers=os.cpu_count() or 2, probe_timeout_s=30
        )
        await service.start_worker()
        try:
            ids = []
            for kind, root in roots.items():
                ids.append(
                    await pool.fetchval(
                        "INSERT INTO libraries (name, kind, root_paths) VALUES ($1, $2, $3) "
                        "RETURNING id",
                        f"{kind}-{uuid.uuid4().hex[:6]}",
                        kind,
                        [str(root)],
                    )
                )
            # Warm the probe workers so process start-up is not billed to the scan.
            warm = await service.start(ids[0])
            await service.wait(warm)
            await pool.execute("TRUNCATE media_items, media_files, library_scans CASCADE")
            started = time.perf_counter()
            scans = [await service.start(i) for i in ids]
            for scan_id in scans:
                await service.wait(scan_id)
            initial = time.perf_counter() - started
            stored = await pool.fetchval("SELECT count(*) FROM media_files")
            if stored != files:
                raise SystemExit(f"expected {files} files stored, found {stored}")
            started = time.perf_counter()
            scans = [await service.start(i) for i in ids]
            for scan_id in scans:
                await service.wait(scan_id)
            rescan = time.perf_counter() - started
            return initial, rescan
        finally:
            await service.close()
            await jobs.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    files = args.files + (-args.files) % 3
    configure_logging("warning")
    t = time.perf_counter()
    roots = generate(files)
    figure("scan.generate_seconds", time.perf_counter() - t, "s")
    rates, rescans = [], []
    for _ in range(args.runs):
        initial, rescan = await one_run(roots, files)
        rates.append(files / initial)
        rescans.append(rescan)
        figure("scan.initial_rate", files / initial, "files/s")
        figure("scan.unchanged_rescan", rescan, "s")
    print(
        f"summary scan files={files} cores={os.cpu_count()} "
        f"initial_median={median(rates):.1f} files/s (target >= 100) "
        f"unchanged_rescan_median={median(rescans):.3f} s (target <= 2)"
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
