"""The web app's static export served at ``/`` with a history fallback."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.spa_routes import IMMUTABLE, REVALIDATE, spa_routes


def fake_build(root: Path) -> Path:
    out = root / "out"
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "admin").mkdir()
    (out / "index.html").write_text("<p>home</p>")
    (out / "item.html").write_text("<p>item</p>")
    (out / "admin" / "index.html").write_text("<p>admin</p>")
    (out / "_next" / "static" / "chunks" / "main-abc123.js").write_text("console.log(1)")
    (out / "favicon.svg").write_text("<svg/>")
    return out


def client_for(build: Path) -> httpx.AsyncClient:
    async def graphql(request: object) -> JSONResponse:
        return JSONResponse({"data": {}})

    app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), *spa_routes(build)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_root_serves_index_revalidated(tmp_path: Path) -> None:
    client = client_for(fake_build(tmp_path))

    response = await client.get("/")

    assert response.status_code == 200
    assert response.text == "<p>home</p>"
    assert response.headers["cache-control"] == REVALIDATE
    assert response.headers["content-type"].startswith("text/html")


async def test_exported_page_without_extension_and_with_query(tmp_path: Path) -> None:
    client = client_for(fake_build(tmp_path))

    assert (await client.get("/item?id=42")).text == "<p>item</p>"
    assert (await client.get("/admin")).text == "<p>admin</p>"
    assert (await client.get("/admin/")).text == "<p>admin</p>"


async def test_a_path_with_no_page_is_the_apps_not_found_page_with_404(tmp_path: Path) -> None:
    build = fake_build(tmp_path)
    client = client_for(build)

    browser = await client.get("/library/some/deep/path", headers={"accept": "text/html"})
    program = await client.get("/library/some/deep/path")
    (build / "404.html").write_text("<p>lost</p>")
    with_page = await client.get("/nowhere", headers={"accept": "text/html,*/*"})
    api_miss = await client.get("/stream/nothing", headers={"accept": "text/html"})

    assert (browser.status_code, browser.text) == (404, "<p>home</p>")  # no 404.html: the app
    assert (program.status_code, program.json()["code"]) == (404, "NOT_FOUND")
    assert (with_page.status_code, with_page.text) == (404, "<p>lost</p>")
    assert (api_miss.status_code, api_miss.json()["code"]) == (404, "NOT_FOUND")


async def test_hashed_assets_cached_for_a_year(tmp_path: Path) -> None:
    client = client_for(fake_build(tmp_path))

    response = await client.get("/_next/static/chunks/main-abc123.js")

    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.text == "console.log(1)"


async def test_missing_asset_is_a_json_404_not_the_index(tmp_path: Path) -> None:
    client = client_for(fake_build(tmp_path))

    missing_chunk = await client.get("/_next/static/chunks/gone.js")
    missing_file = await client.get("/logo.png")

    assert (missing_chunk.status_code, missing_chunk.json()["code"]) == (404, "NOT_FOUND")
    assert (missing_file.status_code, missing_file.json()["code"]) == (404, "NOT_FOUND")


async def test_traversal_is_refused(tmp_path: Path) -> None:
    build = fake_build(tmp_path)
    (tmp_path / "secret.txt").write_text("secret")
    client = client_for(build)

    response = await client.get("/%2e%2e/secret.txt")

    assert response.status_code == 404
    assert "secret" not in response.text


async def test_api_routes_still_win(tmp_path: Path) -> None:
    client = client_for(fake_build(tmp_path))

    assert (await client.post("/graphql")).json() == {"data": {}}
    assert (await client.post("/")).status_code == 405


async def test_without_a_build_says_how_to_build(tmp_path: Path) -> None:
    client = client_for(tmp_path / "nothing")

    as_json = await client.get("/")
    as_page = await client.get("/", headers={"accept": "text/html"})

    assert (as_json.status_code, as_json.json()["code"]) == (404, "FRONTEND_NOT_BUILT")
    assert as_page.status_code == 404
    assert "npm run build" in as_page.text
