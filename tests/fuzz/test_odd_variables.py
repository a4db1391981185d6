"""Every string a fuzzed document takes, in turn, holds each odd value; the rest of its variables
hold plain valid values, so the odd one gets past coercion into the resolver and the database.

The sweep is exhaustive where the random fuzzers only sample: each document, each string or id
variable (and each string field of an input object), each value below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest

from tests.fuzz.answers import exchange
from tests.fuzz.bodies import DOCUMENTS, SCHEMA
from tests.fuzz.conftest import GRAPHQL_RESPONSE, KNOWN_IDS, Caller

ODD_VALUES = {
    "nul": "a\x00b",
    "lone-surrogate": "a\ud800b",
    "long": "é" * 100_000,
}
PLAIN = {"Int": 1, "Float": 1.5, "Boolean": True, "JSON": {}}


def plain_value(type_: graphql.GraphQLInputType) -> Any:
    """A valid value of ``type_`` (required input fields only)."""
    named = type_.of_type if isinstance(type_, graphql.GraphQLNonNull) else type_
    if isinstance(named, graphql.GraphQLList):
        return [plain_value(named.of_type)]
    if isinstance(named, graphql.GraphQLInputObjectType):
        return {
            name: plain_value(field.type)
            for name, field in named.fields.items()
            if graphql.is_non_null_type(field.type)
        }
    if isinstance(named, graphql.GraphQLEnumType):
        return sorted(named.values)[0]
    if named.name == "ID":
        return KNOWN_IDS[1] if KNOWN_IDS else "00000000-0000-0000-0000-000000000000"
    return PLAIN.get(named.name, "plain")


def string_paths(type_: graphql.GraphQLInputType, path: tuple[str, ...]) -> Iterator[tuple]:
    """Where a string goes in a value of ``type_``: the paths of its String/ID leaves."""
    named = graphql.get_nullable_type(type_)
    if isinstance(named, graphql.GraphQLList):
        yield from string_paths(named.of_type, (*path, 0))
    elif isinstance(named, graphql.GraphQLInputObjectType):
        for name, field in sorted(named.fields.items()):
            yield from string_paths(field.type, (*path, name))
    elif isinstance(named, graphql.GraphQLScalarType) and named.name in ("String", "ID"):
        yield path


def variable_types(document: str) -> dict[str, graphql.GraphQLInputType]:
    operation = graphql.parse(document).definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return {
        node.variable.name.value: graphql.type_from_ast(SCHEMA, node.type)  # type: ignore[misc]
        for node in operation.variable_definitions
    }


def sweep() -> Iterator[tuple[str, tuple]]:
    for document in DOCUMENTS:
        for name, type_ in variable_types(document).items():
            for path in string_paths(type_, (name,)):
                yield document, path


def with_value(variables: dict[str, Any], path: tuple, value: str) -> dict[str, Any]:
    """``variables`` with ``value`` put at ``path`` (lists and objects made as needed)."""
    root: Any = variables
    for step, following in zip(path, (*path[1:], None), strict=True):
        if following is None:
            root[step] = value
        elif isinstance(root, list):
            root[step] = (
                root[step] if root[step:] and root[step] else ([] if following == 0 else {})
            )
            root = root[step]
        else:
            fresh: Any = [None] if following == 0 else {}
            root[step] = root.get(step) or fresh
            root = root[step]
    return variables


CASES = [(document, path) for document, path in sweep()]


@pytest.mark.parametrize("caller_name", ["anonymous", "admin"])
def test_every_string_variable_takes_every_odd_value(
    callers: dict[str, Caller], http: httpx.Client, caller_name: str
) -> None:
    failures = []
    for document, path in CASES:
        for odd_name, odd in ODD_VALUES.items():
            variables = {n: plain_value(t) for n, t in variable_types(document).items()}
            body = {"query": document, "variables": with_value(variables, path, odd)}
            headers = {
                "content-type": "application/json",
                "accept": GRAPHQL_RESPONSE,
                **callers[caller_name].headers,
            }
            content = json.dumps(body, ensure_ascii=True).encode()
            found = exchange(http, content, headers, frozenset({200, 400}))
            if found:
                where = ".".join(map(str, path))
                failures.append(f"{odd_name} at {where} in {document[:60]}...: {found[0][:90]}")
    assert not failures, "\n".join(failures)
