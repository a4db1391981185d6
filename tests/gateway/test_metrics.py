"""``/metrics``: off by default, behind a bearer token when enabled, and with every label bound
to a known set however strange the requests."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount

from gateway.app import _route_label
from gateway.metrics_routes import bearer_matches
from infra.metrics import HTTP_METHODS, OTHER, UNMATCHED, method_label, status_label
from tests.gateway.test_app import Running, running_app

TOKEN = "scrape-me-0123456789abcdef"


@pytest.fixture
def metrics_app(database_url: str, tmp_path: Path) -> Iterator[Running]:
    with running_app(
        database_url,
        tmp_path / "data",
        REVENGE_METRICS_ENABLED="true",
        REVENGE_METRICS_TOKEN=TOKEN,
    ) as running:
        yield running


def series(app: Running) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(family, labels) of every series in the app's registry."""
    found = set()
    for family in app.app.state.metrics.registry.collect():
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k not in ("le",)}
            found.add((family.name, tuple(sorted(labels.items()))))
    return found


def templates(app: Running) -> set[str]:
    names = set()
    for route in app.app.routes:
        path = getattr(route, "path", "")
        names.add(f"{path}/{{path:path}}" if isinstance(route, Mount) else path)
    return names


async def test_metrics_are_off_by_default(app: Running) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        for headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
            off = await client.get("/metrics", headers=headers)
            assert off.status_code == 404
            assert off.json() == {"code": "NOT_FOUND", "message": "metrics are not enabled"}


async def test_enabled_metrics_need_the_bearer_token(metrics_app: Running) -> None:
    async with httpx.AsyncClient(base_url=metrics_app.url, timeout=30) as client:
        for headers in (
            {},
            {"authorization": "Bearer wrong-token-0123456789"},
            {"authorization": f"Bearer {TOKEN}x"},
            {"authorization": f"Basic {TOKEN}"},
            {"authorization": TOKEN},
            {"x-api-key": TOKEN},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json() == {
                "code": "UNAUTHENTICATED",
                "message": "metrics need the configured bearer token",
            }
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
        await client.get("/health/live")
        scraped = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    assert (
        'revenge_http_requests_total{method="GET",route="/health/live",status="200"} 1.0'
        in scraped.text
    )
    assert 'route="/metrics",status="401"} 6.0' in scraped.text


def test_the_token_is_compared_whole() -> None:
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert bearer_matches(f"bearer  {TOKEN} ", TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN[:-1]}", TOKEN)
    assert not bearer_matches("Bearer ", TOKEN)
    assert not bearer_matches(None, TOKEN)


async def test_random_methods_and_paths_add_no_series(metrics_app: Running) -> None:
    rng = random.Random(277501)

    def word(size: int) -> str:
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(size))

    # Straight to the app: uvicorn's httptools parser refuses unknown methods itself, other
    # servers (h11, granian) pass them on.
    transport = httpx.ASGITransport(app=metrics_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://revenge") as client:
        before = series(metrics_app)
        for number in range(50):
            method = f"X{word(7)}"
            path = rng.choice(
                [
                    f"/{word(8).lower()}/{word(4).lower()}",
                    f"/stream/{word(12)}",
                    f"/images/{word(6)}",
                    f"/hls/{word(5)}/master.m3u8",
                ]
            )
            answer = await client.request(method, path)
            assert answer.status_code in (404, 405), (method, path, answer.status_code)
            if number % 10 == 0:  # the known methods on random paths too
                known = await client.request(rng.choice(["GET", "PATCH"]), f"/{word(9)}")
                assert known.status_code in (404, 405)
        after = series(metrics_app)

    new = after - before
    labels = [dict(names) for _, names in new]
    assert {label["method"] for label in labels} <= HTTP_METHODS | {OTHER}
    assert {label["route"] for label in labels} <= templates(metrics_app) | {UNMATCHED}
    # Whatever the method or path, a route the app has answered (here the web app's fallback:
    # a full match wins over a route whose method does not fit): three series per metric.
    requests = {
        (label["method"], label["route"], label["status"])
        for (family, _), label in zip(new, labels, strict=True)
        if family == "revenge_http_requests"
    }
    assert requests == {
        ("GET", "/{path:path}", "404"),
        ("PATCH", "/{path:path}", "405"),
        (OTHER, "/{path:path}", "405"),
    }
    assert len(new) == 6


def test_labels_outside_the_known_sets_are_folded() -> None:
    assert [method_label(m) for m in ("GET", "get", "XM277501", "PROPFIND")] == [
        "GET",
        OTHER,
        OTHER,
        OTHER,
    ]
    assert [status_label(s) for s in (200, 206, 418, 599, 999, 0)] == [
        "200",
        "206",
        "418",
        OTHER,
        OTHER,
        OTHER,
    ]
    assert _route_label({"type": "http", "path": "/anything"}) == UNMATCHED
