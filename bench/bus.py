"""Event bus round trip: publish on one bus, receive on another, one event at a time.

Two ``PostgresBus`` instances (as two processes hold them) on a fresh embedded PostgreSQL; each
figure is the time from calling ``publish`` to the subscriber on the other bus holding the
event. Small events travel inside the NOTIFY; large ones (20 KB) by reference through
``bus_payloads``. With ``REVENGE_BENCH_REDIS_URL`` set, two ``RedisBus`` instances run the same
rounds, alternating with PostgreSQL, and the ratio of medians is printed.

    .venv/bin/python bench/bus.py [--events 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from _support import bench_database_and_url, figure, median, percentile

from infra.bus import EventBus, PostgresBus, RedisBus, subscription

ROUNDS = 5
LARGE_EVENTS = 100


async def round_trips(
    publisher: EventBus, subscriber: EventBus, count: int, pad: int
) -> list[float]:
    timings: list[float] = []
    async with subscription(subscriber, "bench") as events:
        for n in range(count):
            started = time.perf_counter()
            await publisher.publish("bench", {"n": n, "pad": "x" * pad})
            event = await events.next()
            timings.append(time.perf_counter() - started)
            assert event["n"] == n
    return timings


async def main(events: int) -> None:
    redis_url = os.environ.get("REVENGE_BENCH_REDIS_URL")
    async with bench_database_and_url() as (pool, url):
        postgres = (PostgresBus(pool, url), PostgresBus(pool, url))
        redis = (RedisBus(redis_url), RedisBus(redis_url)) if redis_url else None
        small: dict[str, list[float]] = {"postgres": [], "redis": []}
        try:
            await round_trips(*postgres, 50, 0)  # warm the pool and the listener
            if redis:
                await round_trips(*redis, 50, 0)
            for _ in range(ROUNDS):  # alternate, so both see the same machine load
                small["postgres"] += await round_trips(*postgres, events // ROUNDS, 0)
                if redis:
                    small["redis"] += await round_trips(*redis, events // ROUNDS, 0)
            large = await round_trips(*postgres, LARGE_EVENTS, 20_000)
        finally:
            for bus in (*postgres, *(redis or ())):
                await bus.close()
    ms = 1000.0
    figure("bus_postgres_round_trip_median", median(small["postgres"]) * ms, "ms")
    figure("bus_postgres_round_trip_p99", percentile(small["postgres"], 0.99) * ms, "ms")
    figure("bus_postgres_by_reference_median", median(large) * ms, "ms")
    summary = f"postgres bus: median {median(small['postgres']) * ms:.3f} ms over {events} events"
    if redis:
        figure("bus_redis_round_trip_median", median(small["redis"]) * ms, "ms")
        figure("bus_redis_round_trip_p99", percentile(small["redis"], 0.99) * ms, "ms")
        ratio = median(small["postgres"]) / median(small["redis"])
        figure("bus_postgres_over_redis", ratio, "x")
        summary += f"; {ratio:.2f} x Redis's median"
    print(summary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000)
    asyncio.run(main(parser.parse_args().events))
