"""A list of entities another subgraph extends: that subgraph's ``prefetch_references`` runs once
for the whole list (gateway/entities.py), its fields then answer each item at once, and the
answers are those of the regular path — with a connection's edges, fragments, a hidden item, a
prefetch that fails, and a fragment chain that a naive walk would expand exponentially."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse

from gateway.composition import compose
from gateway.fast_execution import FastExecutor

HIDDEN = "3"
IDS = ["1", "2", HIDDEN, "4"]


class Calls:
    prefetched: list[list[str]] = []
    awaited = 0
    failing = False


@strawberry.federation.type(keys=["id"], name="Thing")
class LeftThing:
    id: strawberry.ID
    name: str


@strawberry.type
class ThingEdge:
    cursor: str
    node: LeftThing


@strawberry.type
class ThingConnection:
    edges: list[ThingEdge]

    @strawberry.field
    def nodes(self) -> list[LeftThing]:
        return [edge.node for edge in self.edges]


def _things() -> list[LeftThing]:
    return [LeftThing(id=strawberry.ID(i), name=f"thing {i}") for i in IDS]


@strawberry.type
class LeftQuery:
    @strawberry.field
    def things(self) -> list[LeftThing]:
        return _things()

    @strawberry.field
    async def connection(self) -> ThingConnection:
        return ThingConnection(edges=[ThingEdge(cursor=t.id, node=t) for t in _things()])


@strawberry.federation.type(keys=["id"], name="Thing")
class RightThing:
    id: strawberry.ID

    @classmethod
    async def prefetch_references(cls, info: Any, representations: list[dict[str, Any]]) -> None:
        Calls.prefetched.append([r["id"] for r in representations])
        if Calls.failing:
            raise RuntimeError("the prefetch failed")
        await asyncio.sleep(0)
        info.context.known = {r["id"]: r["id"] != HIDDEN for r in representations}

    @classmethod
    def resolve_reference(cls, info: Any, id: strawberry.ID) -> Any:
        known = info.context.known
        if id in known:
            return cls(id=id) if known[id] else None
        return cls._later(id)

    @classmethod
    async def _later(cls, id: strawberry.ID) -> RightThing | None:
        Calls.awaited += 1
        await asyncio.sleep(0)
        return cls(id=id) if id != HIDDEN else None

    @strawberry.field
    def extra(self) -> str | None:
        return f"extra {self.id}"


@strawberry.type
class RightQuery:
    ping: str = "pong"


COMPOSED = compose(
    [
        (
            "left",
            strawberry.federation.Schema(
                query=LeftQuery, types=[LeftThing], federation_version="2.9"
            ),
        ),
        (
            "right",
            strawberry.federation.Schema(
                query=RightQuery, types=[RightThing], federation_version="2.9"
            ),
        ),
    ]
)


class Context:  # takes weak references, as the gateway's does
    def __init__(self) -> None:
        self.known: dict[str, bool] = {}


async def run(document: str, executor: Any) -> dict[str, Any]:
    result = execute(
        COMPOSED.schema, parse(document), context_value=Context(), executor_class=executor
    )
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        result = await result
    assert isinstance(result, ExecutionResult)
    return result.formatted


@pytest.fixture(autouse=True)
def calls() -> type[Calls]:
    Calls.prefetched, Calls.awaited, Calls.failing = [], 0, False
    return Calls


EXTRAS = [f"extra {i}" if i != HIDDEN else None for i in IDS]
DOCUMENTS = {
    "{ things { id name extra } }": lambda data: [t["extra"] for t in data["things"]],
    "{ connection { edges { cursor node { name ...E } } } } fragment E on Thing { extra }": (
        lambda data: [e["node"]["extra"] for e in data["connection"]["edges"]]
    ),
    "{ connection { nodes { ... on Thing { id e: extra } } } }": (
        lambda data: [n["e"] for n in data["connection"]["nodes"]]
    ),
}


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_a_list_costs_one_prefetch_and_answers_like_the_regular_executor(
    document: str, calls: type[Calls]
) -> None:
    fast = await run(document, FastExecutor)
    assert calls.prefetched == [IDS]
    assert calls.awaited == 0  # every item answered from the prefetch
    regular = await run(document, None)

    assert "errors" not in fast
    assert fast == regular
    assert DOCUMENTS[document](fast["data"]) == EXTRAS


async def test_a_list_that_selects_nothing_of_the_other_subgraph_asks_it_nothing(
    calls: type[Calls],
) -> None:
    answer = await run("{ things { id name } connection { nodes { name } } }", FastExecutor)

    assert calls.prefetched == []
    assert [t["name"] for t in answer["data"]["things"]] == [f"thing {i}" for i in IDS]


async def test_a_failing_prefetch_leaves_each_item_to_its_own_reference(
    calls: type[Calls],
) -> None:
    calls.failing = True
    answer = await run("{ things { id extra } }", FastExecutor)

    assert "errors" not in answer
    assert [t["extra"] for t in answer["data"]["things"]] == EXTRAS
    assert calls.awaited == len(IDS)


async def test_a_fragment_chain_is_walked_once_per_fragment(calls: type[Calls]) -> None:
    # Each fragment spreads the next twice: expanding it would visit 2**40 selections.
    depth = 40
    fragments = " ".join(
        f"fragment F{n} on Thing {{ ...F{n + 1} ...F{n + 1} }}" for n in range(depth)
    )
    document = f"{{ things {{ ...F0 }} }} {fragments} fragment F{depth} on Thing {{ extra }}"

    answer = await asyncio.wait_for(run(document, FastExecutor), 10)

    assert calls.prefetched == [IDS]
    assert [t["extra"] for t in answer["data"]["things"]] == EXTRAS
