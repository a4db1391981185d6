"""Hypothesis strategies for request bodies: odd strings, any JSON, request objects with real
documents whose variables have the documents' types and odd contents, deep nesting, bad bytes.

Odd values are the ones that break servers: NUL, lone surrogates (sent as ``\\ud800`` escapes,
which is valid JSON), control and non-BMP characters, long strings, huge numbers. Ids are often
those of seeded rows, so requests reach rows that exist.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import graphql
from hypothesis import strategies as st

from tests.fuzz.conftest import KNOWN_IDS

__all__ = [
    "DOCUMENTS",
    "JSON_VALUES",
    "ODD_STRINGS",
    "RAW_BYTES",
    "SCHEMA",
    "graphql_requests",
    "nested",
    "variables_of",
]

ROOT = Path(__file__).resolve().parents[2]

ODD_CHARACTERS = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\ufeff", "\u202e", "\x7f", "\x1b", "\U0001f4a9", "\n", '"', "\\"]
)
ODD_STRINGS = st.one_of(
    st.text(),
    st.text(st.one_of(ODD_CHARACTERS, st.characters(codec="utf-8"))),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=4),
    st.tuples(ODD_CHARACTERS | st.sampled_from(["a", "{", "é"]), st.integers(1, 200_000)).map(
        lambda pair: pair[0] * pair[1]
    ),
    st.builds(lambda index: KNOWN_IDS[index % len(KNOWN_IDS)], st.integers(0, 63)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    ODD_STRINGS,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ODD_STRINGS, inner, max_size=5),
    max_leaves=20,
)

SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def _field_document(kind: str, name: str, field: graphql.GraphQLField) -> str:
    """``kind ($a: T, ...) { name(a: $a, ...) { __typename } }``: every argument a variable."""
    declared = ", ".join(f"${arg}: {value.type}" for arg, value in sorted(field.args.items()))
    passed = ", ".join(f"{arg}: ${arg}" for arg in sorted(field.args))
    returned = graphql.get_named_type(field.type)
    selection = " { __typename }" if graphql.is_composite_type(returned) else ""
    return f"{kind} ({declared}) {{ {name}({passed}){selection} }}"


# One document per root field that takes arguments: the fuzzed values arrive as variables.
DOCUMENTS = tuple(
    _field_document(kind, name, field)
    for kind, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type))
    if root is not None
    for name, field in sorted(root.fields.items())
    if field.args
)


def values_of(type_: graphql.GraphQLInputType) -> st.SearchStrategy[Any]:
    """JSON for a variable of ``type_``: mostly of that type with odd contents (so it passes
    coercion and reaches the resolver), sometimes null or anything at all."""
    nullable = not isinstance(type_, graphql.GraphQLNonNull)
    named = type_.of_type if isinstance(type_, graphql.GraphQLNonNull) else type_
    if isinstance(named, graphql.GraphQLList):
        typed: st.SearchStrategy[Any] = st.lists(values_of(named.of_type), max_size=4)
    elif isinstance(named, graphql.GraphQLInputObjectType):
        required = {
            k: values_of(f.type)
            for k, f in named.fields.items()
            if graphql.is_non_null_type(f.type)
        }
        optional = {k: values_of(f.type) for k, f in named.fields.items() if k not in required}
        typed = st.fixed_dictionaries(required, optional=optional)
    elif isinstance(named, graphql.GraphQLEnumType):
        typed = st.sampled_from(sorted(named.values))
    else:
        typed = {
            "Int": st.integers(-(2**31), 2**31 - 1),
            "Float": st.floats(allow_nan=False, allow_infinity=False),
            "Boolean": st.booleans(),
            "JSON": JSON_VALUES,
        }.get(named.name, ODD_STRINGS)
    others = (st.none() if nullable else st.nothing()) | JSON_VALUES
    return st.one_of(typed, typed, typed, others)


def variables_of(document: str) -> st.SearchStrategy[dict[str, Any]]:
    operation = graphql.parse(document).definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    fields = {
        node.variable.name.value: values_of(graphql.type_from_ast(SCHEMA, node.type))
        for node in operation.variable_definitions
    }
    return st.fixed_dictionaries(fields)


@st.composite
def graphql_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request object: a real document (or odd text) with variables of its types holding
    odd values, sometimes an odd operationName, documentId or persisted-query extension."""
    document = draw(st.sampled_from(DOCUMENTS))
    odd_text = draw(st.integers(0, 4)) == 0
    request: dict[str, Any] = {"query": draw(ODD_STRINGS) if odd_text else document}
    if draw(st.integers(0, 5)):
        request["variables"] = draw(variables_of(document))
    elif draw(st.booleans()):
        request["variables"] = draw(JSON_VALUES)
    if draw(st.integers(0, 4)) == 0:
        request["operationName"] = draw(ODD_STRINGS | JSON_VALUES)
    if draw(st.integers(0, 4)) == 0:
        request["documentId"] = draw(ODD_STRINGS | JSON_VALUES)
    if draw(st.integers(0, 3)) == 0:
        text = request["query"] if isinstance(request["query"], str) else ""
        own_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        sha = draw(st.just(own_hash) | st.from_regex(r"[0-9a-f]{64}", fullmatch=True) | JSON_VALUES)
        version = draw(st.just(1) | JSON_VALUES)
        request["extensions"] = draw(
            st.just({"persistedQuery": {"version": version, "sha256Hash": sha}}) | JSON_VALUES
        )
    for name in draw(st.lists(ODD_STRINGS, max_size=2)):
        request.setdefault(name, draw(JSON_VALUES))
    return request


def nested(depth: int, kind: str) -> str:
    """JSON nested ``depth`` deep, as a whole body or as the variables of a real document."""
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    inner = opening * depth + "1" + closing * depth
    if kind == "variables":
        return '{"query": "query ($m: JSON!) { __typename }", "variables": {"m": ' + inner + "}}"
    return inner


RAW_BYTES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [b"\xed\xa0\x80", b"\xff\xfe", b"\xef\xbb\xbf{}", b"{", b'{"query": "\xc3(']
    ).flatmap(lambda bad: st.binary(max_size=20).map(lambda tail: bad + tail)),
    st.text().map(lambda text: text.encode("utf-8", "surrogatepass")),
)
