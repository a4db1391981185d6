"""Schemathesis fuzzes every query and mutation field of the served schema, as each caller.

Schemathesis reads the schema the app serves (introspection) and hypothesis-graphql writes
documents for one root field at a time: valid ones with odd arguments (positive mode) and
invalid ones (negative mode). Whatever it sends, the answer is JSON with a status under 500,
no error is ``INTERNAL`` or without a code, and it comes within ``REQUEST_TIMEOUT_S``.

Bounded and repeatable: ``MAX_EXAMPLES`` documents per field and caller, derandomized (the same
documents on every run), no example database, no deadline (a slow machine is not a failure),
no shrinking (a failing request logs a long traceback; the first failing document is reported).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

from tests.fuzz.answers import exchange
from tests.fuzz.conftest import CALLER_NAMES, GRAPHQL_RESPONSE, KNOWN_IDS, Caller
from tests.gateway.test_app import Running

MAX_EXAMPLES = 8
ROOT = Path(__file__).resolve().parents[2]


def _root_fields() -> list[str]:
    """``Query.x`` / ``Mutation.y`` for every root field of the committed schema (its drift from
    the served one fails tests/gateway), read at collection time to name the test cases."""
    schema = graphql.build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    labels = []
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        labels += [f"{root.name}.{name}" for name in sorted(root.fields)]
    return labels


def _json_node(value: Any) -> graphql.ValueNode:
    if isinstance(value, dict):
        return nodes.Object(
            [
                graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_json_node(item))
                for key, item in value.items()
            ]
        )
    if isinstance(value, list):
        return nodes.List([_json_node(item) for item in value])
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if value is None:
        return nodes.Null
    return nodes.String(value)


# The one scalar Schemathesis has no strategy for (a persisted-documents manifest is JSON).
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True), inner)
    ),
    max_leaves=12,
)
schemathesis.graphql.scalar("JSON", JSON_VALUES.map(_json_node))


def _known_id(index: int) -> str:
    return KNOWN_IDS[index % len(KNOWN_IDS)]


# Often the id of a seeded row, so documents reach rows that exist; otherwise UUIDs that
# match nothing, odd strings and integers (an ID literal may be either).
IDS = st.one_of(
    st.integers(min_value=0, max_value=63).map(_known_id).map(nodes.String),
    st.uuids().map(str).map(nodes.String),
    st.text(max_size=40).map(nodes.String),
    st.integers().map(nodes.Int),
)
schemathesis.graphql.scalar("ID", IDS)

# Strings as hypothesis-graphql writes them, and often with a NUL or a control character in
# them (a literal carries it as a \u0000 escape), the characters that trip databases.
STRINGS = st.one_of(
    st.text(),
    st.tuples(
        st.text(max_size=20),
        st.sampled_from(["\x00", "\x01", "\x7f", "\ufeff"]),
        st.text(max_size=20),
    ).map("".join),
)
schemathesis.graphql.scalar("String", STRINGS.map(nodes.String))


@pytest.fixture(scope="module")
def served_schema(fuzz_app: Running, http: httpx.Client) -> Any:
    response = http.post("/graphql", json={"query": graphql.get_introspection_query()})
    assert response.status_code == 200
    loaded = schemathesis.graphql.from_dict(response.json())
    loaded.location = f"{fuzz_app.url}/graphql"
    return loaded


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.mark.parametrize("caller_name", CALLER_NAMES)
@pytest.mark.parametrize("label", _root_fields())
def test_no_fuzzed_document_gets_a_server_error(
    served_schema: Any, callers: dict[str, Caller], http: httpx.Client, label: str, caller_name: str
) -> None:
    root, field = label.split(".")
    operation = served_schema[root][field]
    caller = callers[caller_name]
    headers = {
        "content-type": "application/json",
        "accept": GRAPHQL_RESPONSE,
        **(caller.sign_out_headers if field == "signOut" else caller.headers),
    }
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=cases)
    def one_document(case: Any) -> None:
        body = json.dumps({"query": case.body}).encode()
        assert exchange(http, body, headers) == [], case.body

    one_document()
