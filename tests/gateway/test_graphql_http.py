import json
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from structlog.testing import capture_logs

from gateway import graphql_http
from tests.gateway.conftest import make_app, run_node

GRAPHQL_RESPONSE = "application/graphql-response+json"


def client_for(composed, **options: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(composed, **options))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def post(composed, body: Any, accept: str | None = GRAPHQL_RESPONSE, **options: Any):
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    async with client_for(composed, **options) as client:
        return await client.post("/graphql", content=json.dumps(body), headers=headers)


async def test_accepting_graphql_response_json_gets_it(composed):
    response = await post(composed, {"query": "{ greeting }"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json() == {"data": {"greeting": "Hello, world!"}}


async def test_without_accept_the_answer_is_legacy_json(composed):
    response = await post(composed, {"query": "{ greeting }"}, accept=None)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_parse_error_is_400_with_graphql_response_json_and_200_with_json(composed):
    strict = await post(composed, {"query": "{"})
    legacy = await post(composed, {"query": "{"}, accept="application/json")

    assert strict.status_code == 400
    assert legacy.status_code == 200
    for response in (strict, legacy):
        body = response.json()
        assert "data" not in body
        assert body["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_validation_error_has_its_code(composed):
    response = await post(composed, {"query": "{ nope }"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_bad_variables_are_bad_user_input(composed):
    response = await post(
        composed,
        {
            "query": "query ($first: Int!) { books(first: $first) { id } }",
            "variables": {"first": "x"},
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_malformed_json_is_400_either_way(composed):
    async with client_for(composed) as client:
        response = await client.post(
            "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
        )

    assert response.status_code == 400


async def test_mutations_over_get_are_405(composed):
    async with client_for(composed) as client:
        response = await client.get(
            "/graphql",
            params={"query": 'mutation { addBook(book: {title: "x"}) { id } }'},
            headers={"accept": GRAPHQL_RESPONSE},
        )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_queries_over_get_work(composed):
    async with client_for(composed) as client:
        response = await client.get(
            "/graphql",
            params={
                "query": "query ($name: String!) { greeting(name: $name) }",
                "variables": '{"name": "Bo"}',
            },
        )

    assert response.status_code == 200
    assert response.json() == {"data": {"greeting": "Hello, Bo!"}}


async def test_a_subscription_over_http_says_to_use_the_websocket(composed):
    response = await post(composed, {"query": "subscription { ticks }"}, accept="application/json")

    assert response.status_code == 400
    assert "use the WebSocket endpoint" in response.json()["errors"][0]["message"]


async def test_too_many_tokens_is_rejected_before_parsing(composed, monkeypatch):
    parsed = []
    monkeypatch.setattr(graphql_http, "parse", lambda *a, **k: parsed.append(a))
    query = "{ " + " ".join(f"a{n}: greeting" for n in range(100)) + " }"

    response = await post(composed, {"query": query}, max_tokens=50)

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert parsed == []


async def test_too_deep_is_query_too_complex(composed):
    query = "{ topReview { book { reviews { book { reviews { book { title } } } } } } }"

    deep = await post(composed, {"query": query}, max_depth=6)
    allowed = await post(composed, {"query": query}, max_depth=7)

    assert deep.status_code == 400
    assert deep.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert allowed.status_code == 200


async def test_the_introspection_query_fits_the_default_limits(composed):
    response = await post(
        composed, {"query": get_introspection_query(descriptions=True)}, max_tokens=2000
    )

    assert response.status_code == 200
    assert "errors" not in response.json()


async def test_a_body_over_the_limit_is_413(composed):
    response = await post(composed, {"query": "{ greeting }", "pad": "x" * 200}, max_body_bytes=100)

    assert response.status_code == 413


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(composed):
    async with client_for(composed) as client:
        with capture_logs() as logs:
            response = await client.post(
                "/graphql",
                json={"query": "{ boom greeting }"},
                headers={"accept": GRAPHQL_RESPONSE, "x-request-id": "req-42"},
            )

    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["boom"],
            "extensions": {"code": "INTERNAL"},
        }
    ]
    assert "hunter2" not in response.text
    assert [(log["event"], log["request_id"], log["log_level"]) for log in logs] == [
        ("graphql.resolver_failed", "req-42", "error")
    ]


async def test_revenge_errors_keep_their_message_and_code_and_log_their_reason(composed):
    with capture_logs() as logs:
        response = await post(composed, {"query": "{ forbidden }"})

    assert response.json()["errors"][0]["message"] == "Not for you"
    assert response.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert [(log["event"], log["reason"]) for log in logs] == [
        ("graphql.refused", "parental-rating")
    ]


async def test_documents_are_parsed_once(composed, monkeypatch):
    calls = []
    real_parse = graphql_http.parse

    def counting_parse(*args: Any, **kwargs: Any):
        calls.append(args[0])
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(graphql_http, "parse", counting_parse)
    async with client_for(composed) as client:
        for _ in range(3):
            await client.post("/graphql", json={"query": '{ greeting(name: "cache") }'})

    assert calls == ['{ greeting(name: "cache") }']


@pytest.mark.parametrize(("dev_mode", "is_html"), [(True, True), (False, False)])
async def test_graphiql_only_in_dev_mode(composed, dev_mode, is_html):
    async with client_for(composed, dev_mode=dev_mode) as client:
        response = await client.get(
            "/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        )

    assert ("GraphiQL" in response.text) is is_html
    assert response.status_code == (200 if is_html else 400)


def test_graphql_http_audits_all_pass(server_url, node_modules):
    results = run_node("audit-server.mjs", f"{server_url}/graphql")

    failures = [result for result in results if result["status"] != "ok"]
    assert len(results) == 61
    assert failures == []
