"""Federation benchmark: ``revenge serve`` against Hive Gateway over the same subgraphs.

One embedded PostgreSQL holds a movie library (each movie with files, streams, images, genres and
people) and an administrator's API key, whose profile has played, resumable and favourite rows
in ``user_data``. Against it run, as real processes started through the CLI: ``revenge serve``
(the gateway with every subgraph in-process) and three ``revenge subgraph NAME`` processes
(catalog, user, playback), composed with their real URLs by @theguild/federation-composition into
the supergraph two Hive Gateways (``@graphql-hive/gateway``, locked in ``tests/js``) serve: one
with its defaults, which merge identical in-flight subgraph requests ("hive-default"), one with
that deduplication off ("hive-dedup-off"), so each client request reaches the subgraphs as it does
in revenge serve. Hive forwards the caller's API key; each subgraph authenticates it itself.

First the answers: the benchmark's query and four more (one subgraph alone, an entity lookup with
variables, an unknown id, a malformed id and its error) must give identical ``data`` (same keys,
same order) and equivalent errors (same paths and ``extensions.code``) through revenge serve and
through each Hive; the check is printed and a difference exits 1 before measuring (unless
``--ignore-differences``, which measures and still exits 1).

Then alternating rounds (revenge, hive-dedup-off, hive-default, ``--rounds`` times) of the query
``items(kinds: [MOVIE], first: 50) { … userData { isPlayed positionMs isFavorite } }``, the load
from a child process (``bench/_federation_client.py``) so it never shares a server's interpreter
lock: c=1, sequential requests on one keep-alive connection (p50, p95), and c=10, ten keep-alive
connections for ``--seconds`` (req/s). Around each run the CPU time (utime + stime) of each
process tree — revenge serve; a Hive and the three subgraphs behind it; PostgreSQL for either —
is read from /proc and divided by the requests; the RSS of each tree is read before the first
round and after the last. Figures are medians over the rounds; absolute times on this machine are
noise, the ratios are the result.

Targets: c=10 req/s >= 2x Hive with deduplication off and >= 1x Hive's defaults; c=1 p50 <= 0.33x
Hive's.

    ./dev bench federation [--movies 200] [--rounds 3] [--requests 200] [--seconds 10]
        [--workers N] [--hive-fork 1] [--ignore-differences]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _federation_client import ITEMS_QUERY
from _federation_servers import (
    HIVE_MODES,
    SUBGRAPH_NAMES,
    Server,
    compose_supergraph,
    parent_pid,
    serve_supports_workers,
    start_hive,
    start_revenge_serve,
    start_subgraph,
    stopping,
    wait_ready,
)
from _processes import tree_cpu_seconds, tree_rss_mib
from _support import ROOT, bench_database_and_url, figure, median, percentile

from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_movie_library

TARGETS = ("revenge", *HIVE_MODES)
CLIENT = Path(__file__).resolve().parent / "_federation_client.py"
TARGET_C10_VS_DEDUP_OFF = 2.0
TARGET_C10_VS_DEFAULT = 1.0
TARGET_C1_P50_RATIO = 0.33
BENCH_USER = "bench-federation"

ITEM_QUERY = """
query Item($id: ID!) {
  item(id: $id) { id title year userData { isPlayed positionMs isFavorite playCount } }
}
"""
LIBRARIES_QUERY = "{ libraries { id name kind itemCount } }"


# --- the data ---------------------------------------------------------------------------------


async def insert_rows(pool: asyncpg.Pool, movies: int) -> tuple[str, str]:
    """The library, the benchmark user's API key and user data; returns (key, a movie's id)."""
    library_id = await insert_movie_library(pool, movies)
    key = await admin_api_key(pool, BENCH_USER)
    user_id, profile_id = await pool.fetchrow(
        "SELECT u.id, p.id FROM users AS u JOIN profiles AS p ON p.user_id = u.id"
        " WHERE u.name = $1",
        BENCH_USER,
    )
    # The first page's movies: every third played, every third resumable, every fourth a favourite.
    await pool.execute(
        "INSERT INTO user_data (user_id, profile_id, item_id, position_ms, is_played, play_count,"
        " is_favorite, last_played_at)"
        " SELECT $1, $2, id, CASE WHEN n % 3 = 1 THEN n * 60000 ELSE 0 END, n % 3 = 0,"
        " CASE WHEN n % 3 = 0 THEN 1 ELSE 0 END, n % 4 = 0, now() - n * interval '1 minute'"
        " FROM (SELECT id, row_number() OVER (ORDER BY sort_title) AS n FROM media_items"
        " WHERE library_id = $3) AS page WHERE n <= 80",
        user_id,
        profile_id,
        library_id,
    )
    first = await pool.fetchval(
        "SELECT id FROM media_items WHERE library_id = $1 ORDER BY sort_title LIMIT 1", library_id
    )
    await pool.execute("ANALYZE")
    return key, str(first)


async def postgres_pid(pool: asyncpg.Pool) -> int:
    """The postmaster: the parent of this connection's backend process."""
    return parent_pid(await pool.fetchval("SELECT pg_backend_pid()"))


# --- the answers ------------------------------------------------------------------------------


def answer_checks(movie_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("items_with_user_data", ITEMS_QUERY, {}),
        ("one_subgraph", LIBRARIES_QUERY, {}),
        ("entity_with_variables", ITEM_QUERY, {"id": movie_id}),
        ("unknown_id", ITEM_QUERY, {"id": str(uuid.uuid4())}),
        ("malformed_id_error", ITEM_QUERY, {"id": "not-an-id"}),
    ]


def ask(url: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"x-api-key": key, "accept": "application/graphql-response+json"},
        timeout=60,
    )
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"http_status": response.status_code, "text": response.text[:300]}
    return body


def error_shapes(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [
        (error.get("path"), (error.get("extensions") or {}).get("code"))
        for error in body.get("errors") or []
    ]


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    """None when equal; otherwise what differs."""
    if json.dumps(ours.get("data")) != json.dumps(theirs.get("data")):
        if ours.get("data") == theirs.get("data"):
            return "data equal but its keys come in another order"
        return f"data differs: revenge {str(ours)[:400]} / hive {str(theirs)[:400]}"
    if error_shapes(ours) != error_shapes(theirs):
        return f"errors differ: revenge {ours.get('errors')} / hive {theirs.get('errors')}"
    return None


def check_answers(servers: dict[str, Server], key: str, movie_id: str) -> bool:
    same = True
    for name, query, variables in answer_checks(movie_id):
        ours = ask(servers["revenge"].url, key, query, variables)
        for mode in HIVE_MODES:
            difference = compare(ours, ask(servers[mode].url, key, query, variables))
            verdict = "identical" if difference is None else f"DIFFERENT: {difference}"
            print(f"# answer {name} revenge vs {mode}: {verdict}", flush=True)
            same = same and difference is None
        codes = [code for _, code in error_shapes(ours)]
        print(f"# answer {name}: errors {codes or 'none'}", flush=True)
    return same


# --- the rounds -------------------------------------------------------------------------------


def run_client(arguments: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(CLIENT), *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"client {arguments[0]} failed: {done.stderr[-800:]}{done.stdout[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measured(trees: dict[str, int], arguments: list[str]) -> dict[str, Any]:
    """The client's result and, per process tree, the CPU ms it spent a request."""
    before = {name: tree_cpu_seconds(pid) for name, pid in trees.items()}
    result = run_client(arguments)
    after = {name: tree_cpu_seconds(pid) for name, pid in trees.items()}
    result["cpu_ms"] = {
        name: (after[name] - before[name]) * 1000 / result["total"] for name in trees
    }
    return result


def one_round(
    target: str, url: str, trees: dict[str, int], key: str, args: argparse.Namespace
) -> dict[str, Any]:
    latency = measured(trees, ["latency", url, key, str(args.requests), str(args.warmup)])
    load = measured(
        trees,
        ["throughput", url, key, str(args.seconds), str(args.warmup), str(args.concurrency)],
    )
    times = latency["times"]
    figures = {
        "c1_p50": median(times),
        "c1_p95": percentile(times, 0.95),
        "c10_rps": load["requests"] / load["seconds"],
        **{f"c1_cpu_ms.{tree}": value for tree, value in latency["cpu_ms"].items()},
        **{f"c10_cpu_ms.{tree}": value for tree, value in load["cpu_ms"].items()},
    }
    print(
        f"# {target}: c1 p50 {figures['c1_p50']:.2f} ms p95 {figures['c1_p95']:.2f} ms, "
        f"c{args.concurrency} {figures['c10_rps']:.1f} req/s, CPU ms/request at c10 "
        + " ".join(f"{tree}={value:.2f}" for tree, value in load["cpu_ms"].items()),
        flush=True,
    )
    return figures


def process_trees(servers: dict[str, Server], postgres: int) -> dict[str, dict[str, int]]:
    """Which trees each target's CPU is read from: its gateway, what it calls, PostgreSQL."""
    subgraphs = {
        f"subgraph_{name}": servers[f"subgraph-{name}"].process.pid for name in SUBGRAPH_NAMES
    }
    trees = {"revenge": {"gateway": servers["revenge"].process.pid, "postgres": postgres}}
    for mode in HIVE_MODES:
        trees[mode] = {"gateway": servers[mode].process.pid, **subgraphs, "postgres": postgres}
    return trees


def totals(figures: dict[str, float], prefix: str) -> float:
    """CPU ms a request over the gateway and its subgraphs (PostgreSQL apart)."""
    return sum(
        value
        for name, value in figures.items()
        if name.startswith(prefix) and not name.endswith(".postgres")
    )


def report_rss(servers: dict[str, Server], when: str) -> dict[str, float]:
    rss = {name: tree_rss_mib(server.process.pid) for name, server in servers.items()}
    for name, value in rss.items():
        figure(f"federation.rss_{when}.{name}", value, "MiB")
    return rss


def summarize(runs: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> dict:
    medians: dict[str, dict[str, float]] = {}
    for target, rounds in runs.items():
        medians[target] = {name: median([r[name] for r in rounds]) for name in rounds[0]}
        medians[target]["c1_cpu_ms.total"] = totals(medians[target], "c1_cpu_ms.")
        medians[target]["c10_cpu_ms.total"] = totals(medians[target], "c10_cpu_ms.")
        for name, value in medians[target].items():
            unit = "req/s" if name == "c10_rps" else "ms"
            figure(
                f"federation.{target}.{name.replace('c10', f'c{args.concurrency}')}", value, unit
            )
    return medians


async def run(args: argparse.Namespace) -> int:
    if args.workers is not None and not serve_supports_workers():
        raise SystemExit("this revenge serve has no --workers option")
    t = time.perf_counter()
    async with bench_database_and_url() as (pool, database_url):
        key, movie_id = await insert_rows(pool, args.movies)
        postgres = await postgres_pid(pool)
        with (
            tempfile.TemporaryDirectory(prefix="revenge-bench-federation-") as folder,
            stopping() as started,
        ):
            work = Path(folder)
            environ = {
                "REVENGE_DATABASE_URL": database_url,
                "REVENGE_DATA_DIR": str(work / "data"),
                "REVENGE_LOG_LEVEL": "warning",
            }
            servers: dict[str, Server] = {}
            for name in SUBGRAPH_NAMES:
                servers[f"subgraph-{name}"] = start_subgraph(name, environ, work)
                started.append(servers[f"subgraph-{name}"])
            servers["revenge"] = start_revenge_serve(environ, work, args.workers)
            started.append(servers["revenge"])
            for name in SUBGRAPH_NAMES:
                await asyncio.to_thread(wait_ready, servers[f"subgraph-{name}"], "/health/live")
            supergraph = await asyncio.to_thread(
                compose_supergraph, {name: servers[f"subgraph-{name}"] for name in SUBGRAPH_NAMES}
            )
            for mode in HIVE_MODES:
                servers[mode] = start_hive(mode, supergraph, work, args.hive_fork)
                started.append(servers[mode])
            await asyncio.to_thread(wait_ready, servers["revenge"], "/health/ready")
            for mode in HIVE_MODES:
                await asyncio.to_thread(wait_ready, servers[mode], "/healthcheck")
            figure("federation.setup_seconds", time.perf_counter() - t, "s")

            same = await asyncio.to_thread(check_answers, servers, key, movie_id)
            if not same and not args.ignore_differences:
                print("summary federation answers DIFFER between revenge serve and Hive (see #)")
                return 1

            rss_before = report_rss(servers, "before")
            trees = process_trees(servers, postgres)
            runs: dict[str, list[dict[str, float]]] = {target: [] for target in TARGETS}
            for number in range(1, args.rounds + 1):
                print(f"# round {number}", flush=True)
                for target in TARGETS:
                    runs[target].append(
                        await asyncio.to_thread(
                            one_round, target, servers[target].url, trees[target], key, args
                        )
                    )
            rss_after = report_rss(servers, "after")

    medians = summarize(runs, args)
    print_summary(medians, rss_before, rss_after, same, args)
    return 0 if same else 1


def print_summary(
    medians: dict[str, dict[str, float]],
    rss_before: dict[str, float],
    rss_after: dict[str, float],
    same: bool,
    args: argparse.Namespace,
) -> None:
    ours, off, default = (medians[target] for target in TARGETS)
    vs_off = ours["c10_rps"] / off["c10_rps"]
    vs_default = ours["c10_rps"] / default["c10_rps"]
    p50_off = ours["c1_p50"] / off["c1_p50"]
    p50_default = ours["c1_p50"] / default["c1_p50"]
    figure("federation.c10_rps_ratio.vs_hive_dedup_off", vs_off, "x")
    figure("federation.c10_rps_ratio.vs_hive_default", vs_default, "x")
    figure("federation.c1_p50_ratio.vs_hive_dedup_off", p50_off, "x")
    figure("federation.c1_p50_ratio.vs_hive_default", p50_default, "x")

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    c = args.concurrency
    met_off = verdict(vs_off >= TARGET_C10_VS_DEDUP_OFF)
    met_default = verdict(vs_default >= TARGET_C10_VS_DEFAULT)
    hive_rss = sum(v for name, v in rss_after.items() if name.startswith("subgraph-"))
    print(
        f"summary federation movies={args.movies} rounds={args.rounds} "
        f"answers={'identical' if same else 'DIFFERENT'} | "
        f"c{c} req/s revenge={ours['c10_rps']:.1f} hive-dedup-off={off['c10_rps']:.1f} "
        f"hive-default={default['c10_rps']:.1f}: x{vs_off:.2f} vs dedup-off "
        f"(target >= {TARGET_C10_VS_DEDUP_OFF:.0f}: {met_off}), "
        f"x{vs_default:.2f} vs default "
        f"(target >= {TARGET_C10_VS_DEFAULT:.0f}: {met_default}) | "
        f"c1 p50 ms revenge={ours['c1_p50']:.2f} hive-dedup-off={off['c1_p50']:.2f} "
        f"hive-default={default['c1_p50']:.2f}: x{p50_off:.2f} / x{p50_default:.2f} "
        f"(target <= {TARGET_C1_P50_RATIO}: "
        f"{verdict(max(p50_off, p50_default) <= TARGET_C1_P50_RATIO)}) | "
        f"CPU ms/request at c{c} (gateway+subgraphs, PostgreSQL apart) "
        f"revenge={ours['c10_cpu_ms.total']:.2f} hive-dedup-off={off['c10_cpu_ms.total']:.2f} "
        f"hive-default={default['c10_cpu_ms.total']:.2f}; postgres "
        f"{ours['c10_cpu_ms.postgres']:.2f}/{off['c10_cpu_ms.postgres']:.2f}/"
        f"{default['c10_cpu_ms.postgres']:.2f} | RSS MiB before->after revenge "
        f"{rss_before['revenge']:.0f}->{rss_after['revenge']:.0f}, hive-dedup-off "
        f"{rss_before['hive-dedup-off']:.0f}->{rss_after['hive-dedup-off']:.0f}, hive-default "
        f"{rss_before['hive-default']:.0f}->{rss_after['hive-default']:.0f}, subgraphs "
        f"{hive_rss:.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--movies", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="c=1 requests a round")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests (per lane)")
    parser.add_argument("--seconds", type=float, default=10.0, help="c=10 duration a round")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None, help="revenge serve --workers")
    parser.add_argument("--hive-fork", type=int, default=1, help="hive-gateway --fork")
    parser.add_argument("--ignore-differences", action="store_true")
    args = parser.parse_args()
    from _support import run_like_serve

    code = [0]

    async def main_coroutine() -> None:
        code[0] = await run(args)

    run_like_serve(main_coroutine())
    sys.exit(code[0])


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
