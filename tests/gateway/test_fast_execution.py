"""The compiled executor must answer exactly as graphql-core's own: data, errors, paths."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse
from graphql.execution.executor import Executor

from gateway.composition import compose
from gateway.fast_execution import FastExecutor


@strawberry.enum
class Shape(enum.Enum):
    ROUND = "round"
    SQUARE = "square"


@strawberry.type
class Leaf:
    name: str
    size: int | None
    shape: Shape
    tags: list[str]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def must_not_be_null(self) -> str:
        return None  # type: ignore[return-value]

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("leaf is broken")

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"later {self.name}"

    @strawberry.field
    def deferred(self) -> str:
        async def value() -> str:
            return f"deferred {self.name}"

        return value()  # type: ignore[return-value]

    @strawberry.field
    def scaled(self, factor: int = 2) -> int:
        return (self.size or 0) * factor


@strawberry.type
class Other:
    label: str


@strawberry.type
class Branch:
    title: str
    leaves: list[Leaf]
    grid: list[list[int]]
    maybe: Leaf | None

    @strawberry.field
    def thing(self) -> Leaf | Other:
        return Other(label=f"other of {self.title}")


def make_branch(n: int) -> Branch:
    return Branch(
        title=f"branch {n}",
        leaves=[
            Leaf(name=f"leaf {n}.{i}", size=i if i % 2 else None, shape=Shape.ROUND, tags=["a"])
            for i in range(3)
        ],
        grid=[[n, n + 1], []],
        maybe=None,
    )


@strawberry.type
class Query:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return [make_branch(n) for n in range(4)]

    @strawberry.field
    async def branch(self) -> Branch:
        return make_branch(9)


COMPOSED = compose([("tree", strawberry.federation.Schema(query=Query, federation_version="2.9"))])

DOCUMENTS = [
    "{ branches { title leaves { name size shape tags shout scaled(factor: 3) } grid } }",
    "{ branches { t: title leaves { n: name, ...F } maybe { name } } } "
    "fragment F on Leaf { size __typename }",
    "{ branch { title leaves { name } } }",
    "{ branches { leaves { name later } } }",
    "{ branches { leaves { name deferred } } }",
    "{ branches { leaves { name broken } } }",
    "{ branches { title leaves { name mustNotBeNull } } }",
    "{ branches { thing { __typename ... on Other { label } ... on Leaf { name } } } }",
    "query ($with: Boolean!) { branches { title @include(if: $with) leaves "
    "{ name @skip(if: $with) size } } }",
]


async def run(document: str, executor: Any) -> dict[str, Any]:
    result = execute(
        COMPOSED.schema,
        parse(document),
        context_value=object(),
        variable_values={"with": True},
        executor_class=executor,
    )
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        result = await result
    assert isinstance(result, ExecutionResult)
    return result.formatted


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_compiled_and_regular_execution_agree(document: str) -> None:
    regular = await run(document, None)
    fast = await run(document, FastExecutor)
    assert fast == regular


async def test_errors_keep_their_paths_and_null_propagation() -> None:
    broken = await run("{ branches { leaves { broken } } }", FastExecutor)
    assert broken["errors"][0]["path"] == ["branches", 0, "leaves", 0, "broken"]
    assert broken["data"]["branches"][0]["leaves"][0] == {"broken": None}
    null = await run("{ branches { leaves { mustNotBeNull } } }", FastExecutor)
    assert null["data"] is None  # every level is non-null: the null reaches the root
    assert null["errors"][0]["path"] == ["branches", 0, "leaves", 0, "mustNotBeNull"]


async def test_plain_sub_trees_really_take_the_compiled_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    regular = Executor.execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
        calls.append(f"{parent_type.name}.{details[0].node.name.value}")
        return regular(self, parent_type, source, details, *args)

    monkeypatch.setattr(Executor, "execute_field", counting)
    await run(DOCUMENTS[0], FastExecutor)
    assert calls == ["Query.branches"]  # everything below ran compiled
    calls.clear()
    await run("{ branches { leaves { name later } } }", FastExecutor)
    assert "Leaf.later" in calls  # an async resolver goes to graphql-core


async def test_finished_requests_are_not_kept_alive_by_the_give_up_path() -> None:
    # Every document here gives up on part of its tree (an async resolver, a union, an error).
    # A give-up must not keep the request's executor (and with it its results) alive afterwards.
    import gc
    import weakref

    executors: list[weakref.ref[Any]] = []

    class Tracked(FastExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            executors.append(weakref.ref(self))

    for _ in range(50):
        for document in DOCUMENTS[3:8]:
            await run(document, Tracked)
    gc.collect()
    alive = [ref for ref in executors if ref() is not None]
    assert len(executors) == 250
    assert alive == []
