import enum
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse, subscribe

from gateway.composition import ComposedSchema, CompositionError, compose
from tests.gateway.fixture_subgraphs import SUBGRAPHS, FixtureContext


async def run(composed: ComposedSchema, query: str, context: Any = None) -> ExecutionResult:
    result = execute(composed.schema, parse(query), context_value=context or FixtureContext())
    if not isinstance(result, ExecutionResult):
        result = await result
    return result


def federation_schema(query: type, **options: Any) -> strawberry.federation.Schema:
    return strawberry.federation.Schema(query=query, federation_version="2.9", **options)


def test_book_has_the_fields_of_both_subgraphs_and_remembers_their_owners(composed):
    book = composed.schema.type_map["Book"]

    assert sorted(book.fields) == [
        "averageStars",
        "genre",
        "id",
        "reviewCount",
        "reviews",
        "title",
    ]
    assert composed.owner("Book", "title") == "books"
    assert composed.owner("Book", "reviews") == "reviews"
    assert composed.owner("Book", "id") == "books"
    assert composed.owner("Query", "topReview") == "reviews"
    assert composed.owner("Subscription", "reviewPosted") == "reviews"


def test_root_types_are_merged_under_their_standard_names(composed):
    schema = composed.schema

    assert schema.query_type.name == "Query"
    assert schema.mutation_type.name == "Mutation"
    assert schema.subscription_type.name == "Subscription"
    assert sorted(schema.subscription_type.fields) == [
        "lagging",
        "newBooks",
        "reviewPosted",
        "ticks",
    ]


def test_sdl_leaves_out_federation_plumbing(composed):
    sdl = composed.sdl()

    for plumbing in ("_service", "_entities", "_Any", "_Entity", "_Service", "_FieldSet"):
        assert plumbing not in sdl
    for directive in ("@key", "@link", "link__", "federation__", "@shareable"):
        assert directive not in sdl
    assert "type Book implements Media {" in sdl


def test_sdl_is_sorted_and_does_not_depend_on_subgraph_order(composed):
    reversed_order = compose(reversed(SUBGRAPHS))

    assert reversed_order.sdl() == composed.sdl()
    assert composed.sdl().index("type Author") < composed.sdl().index("type Book")
    assert "  averageStars: Float!\n  genre: Genre!\n  id: ID!\n" in composed.sdl()


async def test_a_list_of_50_costs_one_batched_reference_load(composed):
    context = FixtureContext()

    result = await run(
        composed,
        "{ books(first: 50) { id title reviews { stars } reviewCount averageStars } }",
        context,
    )

    assert result.errors is None
    assert len(result.data["books"]) == 50
    assert result.data["books"][6] == {
        "id": "7",
        "title": "Book 7",
        "reviews": [{"stars": 3}],
        "reviewCount": 1,
        "averageStars": 3.0,
    }
    assert context.calls.review_reference_batches == [[str(n) for n in range(1, 51)]]
    # three reviews-owned fields per book, one conversion per book
    assert context.calls.review_resolve_reference_calls == 50


async def test_fields_of_one_object_share_one_conversion(composed):
    context = FixtureContext()

    result = await run(
        composed,
        '{ book(id: "3") { title reviewCount averageStars reviews { body } again: reviewCount } }',
        context,
    )

    assert result.errors is None
    assert result.data["book"] == {
        "title": "Book 3",
        "reviewCount": 1,
        "averageStars": 4.0,
        "reviews": [{"body": "Review of 3"}],
        "again": 1,
    }
    assert context.calls.review_resolve_reference_calls == 1
    assert context.calls.review_reference_batches == [["3"]]


async def test_the_memo_is_per_request(composed):
    first, second = FixtureContext(), FixtureContext()

    await run(composed, '{ book(id: "3") { reviewCount } }', first)
    await run(composed, '{ book(id: "3") { reviewCount } }', second)

    assert first.calls.review_resolve_reference_calls == 1
    assert second.calls.review_resolve_reference_calls == 1


class UnreferenceableContext:
    """A context without weak-reference support (like a plain dict)."""

    __slots__ = ("inner",)

    def __init__(self) -> None:
        self.inner = FixtureContext()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_context_without_weak_references_resolves_without_memo(composed):
    context = UnreferenceableContext()

    result = await run(composed, '{ book(id: "4") { reviewCount averageStars } }', context)

    assert result.errors is None
    assert result.data == {"book": {"reviewCount": 1, "averageStars": 5.0}}
    assert context.calls.review_resolve_reference_calls == 2
    assert context.calls.review_reference_batches == [["4"]]


async def test_objects_of_the_reviews_subgraph_reach_books_fields(composed):
    context = FixtureContext()

    result = await run(
        composed,
        "{ topReview { body book { id title genre reviewCount reviews { book { title } } } } }",
        context,
    )

    assert result.errors is None
    assert result.data["topReview"] == {
        "body": "Best",
        "book": {
            "id": "7",
            "title": "Book 7",
            "genre": "POETRY",
            "reviewCount": 1,
            "reviews": [{"book": {"title": "Book 7"}}],
        },
    }
    assert context.calls.book_reference_batches == [["7"]]


async def test_unions_and_interfaces_resolve_across_subgraphs(composed):
    result = await run(
        composed,
        """{
          search(term: "Ann") {
            __typename
            ... on Book { title reviewCount }
            ... on Author { name }
          }
          media { __typename title ... on Book { averageStars } }
        }""",
    )

    assert result.errors is None
    assert result.data == {
        "search": [
            {"__typename": "Book", "title": "Book 1", "reviewCount": 1},
            {"__typename": "Author", "name": "Ann"},
        ],
        "media": [{"__typename": "Book", "title": "Book 2", "averageStars": 3.0}],
    }


async def test_enum_and_input_arguments_reach_the_owner(composed):
    books = await run(composed, "{ books(first: 5, genre: POETRY) { id genre } }")
    added = await run(
        composed, 'mutation { addBook(book: {title: "New", genre: POETRY}) { title genre } }'
    )

    assert books.data == {
        "books": [
            {"id": "1", "genre": "POETRY"},
            {"id": "3", "genre": "POETRY"},
            {"id": "5", "genre": "POETRY"},
        ]
    }
    assert added.data == {"addBook": {"title": "New", "genre": "POETRY"}}


async def test_subscriptions_run_through_the_composed_schema(composed):
    context = FixtureContext()

    stream = await subscribe(
        composed.schema,
        parse("subscription { reviewPosted(n: 2) { body book { title } } }"),
        context_value=context,
    )
    events = [event.data async for event in stream]

    assert events == [
        {"reviewPosted": {"body": "Posted 1", "book": {"title": "Book 1"}}},
        {"reviewPosted": {"body": "Posted 2", "book": {"title": "Book 2"}}},
    ]


def test_two_subgraphs_defining_the_same_root_field_is_an_error():
    @strawberry.type(name="Query")
    class FirstQuery:
        hello: str = "first"

    @strawberry.type(name="Query")
    class SecondQuery:
        hello: str = "second"

    with pytest.raises(CompositionError) as raised:
        compose(
            [("first", federation_schema(FirstQuery)), ("second", federation_schema(SecondQuery))]
        )

    assert "Query.hello" in str(raised.value)
    assert "'first' and 'second'" in str(raised.value)


def test_a_field_repeated_without_shareable_is_an_error():
    @strawberry.federation.type(keys=["id"], name="Thing")
    class FirstThing:
        id: strawberry.ID
        name: str

    @strawberry.federation.type(keys=["id"], name="Thing")
    class SecondThing:
        id: strawberry.ID
        name: str

    @strawberry.type(name="Query")
    class FirstQuery:
        thing: FirstThing | None = None

    @strawberry.type(name="Query")
    class SecondQuery:
        other_thing: SecondThing | None = None

    with pytest.raises(CompositionError) as raised:
        compose(
            [("first", federation_schema(FirstQuery)), ("second", federation_schema(SecondQuery))]
        )

    assert "Thing.name" in str(raised.value)
    assert "'first' and 'second'" in str(raised.value)


def test_shareable_and_key_fields_may_repeat():
    @strawberry.federation.type(keys=["id"], name="Thing")
    class FirstThing:
        id: strawberry.ID
        name: str = strawberry.federation.field(shareable=True, default="first")

    @strawberry.federation.type(keys=["id"], name="Thing")
    class SecondThing:
        id: strawberry.ID
        name: str = strawberry.federation.field(shareable=True, default="second")

    @strawberry.type(name="Query")
    class FirstQuery:
        thing: FirstThing | None = None

    @strawberry.type(name="Query")
    class SecondQuery:
        other_thing: SecondThing | None = None

    composed = compose(
        [("first", federation_schema(FirstQuery)), ("second", federation_schema(SecondQuery))]
    )

    assert composed.owner("Thing", "name") == "first"


async def test_an_enum_both_subgraphs_define_reaches_each_owner_as_its_own_enum():
    @strawberry.enum(name="Color")
    class FirstColor(enum.Enum):
        RED = "red"
        BLUE = "blue"

    @strawberry.enum(name="Color")
    class SecondColor(enum.Enum):
        RED = "red"
        BLUE = "blue"

    @strawberry.type(name="Query")
    class FirstQuery:
        @strawberry.field
        def first(self, color: FirstColor) -> FirstColor:
            assert isinstance(color, FirstColor)
            return color

    @strawberry.type(name="Query")
    class SecondQuery:
        @strawberry.field
        def second(self, colors: list[SecondColor]) -> list[SecondColor]:
            assert all(isinstance(color, SecondColor) for color in colors)
            return colors

    composed = compose(
        [("first", federation_schema(FirstQuery)), ("second", federation_schema(SecondQuery))]
    )
    result = await run(composed, "{ first(color: RED) second(colors: [BLUE, RED]) }")

    assert result.errors is None
    assert result.data == {"first": "RED", "second": ["BLUE", "RED"]}


async def test_subscription_resolvers_stay_async_generators(composed):
    @strawberry.type(name="Query")
    class Query:
        ok: bool = True

    @strawberry.type(name="Subscription")
    class Subscription:
        @strawberry.subscription
        async def count(self) -> AsyncGenerator[int, None]:
            yield 1

    composed_alone = compose([("solo", federation_schema(Query, subscription=Subscription))])
    stream = await subscribe(composed_alone.schema, parse("subscription { count }"))

    assert [event.data async for event in stream] == [{"count": 1}]
