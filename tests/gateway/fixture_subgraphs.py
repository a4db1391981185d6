"""Two small federation subgraphs the gateway tests compose.

``books`` owns ``Book @key(id)``; ``reviews`` contributes ``Book.reviews`` through its
own ``Book @key(id)`` whose ``resolve_reference`` goes through a request-scoped
aiodataloader, so the tests can count how many batched reference lookups a query costs.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated

import strawberry
from aiodataloader import DataLoader
from strawberry.types import Info

from infra.bus import SubscriberTooSlow
from infra.errors import Forbidden

BOOK_TITLES = {str(number): f"Book {number}" for number in range(1, 101)}
TICK_STREAMS = {"opened": 0, "closed": 0}  # the WebSocket tests check every stream is closed


@dataclass(eq=False)
class Calls:
    """What the subgraphs were asked to do during one request."""

    review_reference_batches: list[list[str]] = field(default_factory=list)
    book_reference_batches: list[list[str]] = field(default_factory=list)
    review_resolve_reference_calls: int = 0


class FixtureContext:
    """A request context: a request id plus fresh loaders (built on first use)."""

    def __init__(self, request_id: str = "req-test", connection_params: object = None) -> None:
        self.request_id = request_id
        self.connection_params = connection_params
        self.calls = Calls()
        self._loaders: dict[str, DataLoader] = {}

    def loader(self, name: str) -> DataLoader:
        if name not in self._loaders:
            if name == "reviews.BookById":
                self._loaders[name] = DataLoader(self._load_review_books)
            else:
                self._loaders[name] = DataLoader(self._load_books)
        return self._loaders[name]

    async def _load_review_books(self, ids: list[str]) -> list[ReviewBook]:
        self.calls.review_reference_batches.append(list(ids))
        return [ReviewBook(id=strawberry.ID(book_id)) for book_id in ids]

    async def _load_books(self, ids: list[str]) -> list[Book | None]:
        self.calls.book_reference_batches.append(list(ids))
        return [make_book(book_id) if book_id in BOOK_TITLES else None for book_id in ids]


# --- books ---------------------------------------------------------------------------


@strawberry.enum
class Genre(enum.Enum):
    NOVEL = "novel"
    POETRY = "poetry"


@strawberry.interface
class Media:
    id: strawberry.ID
    title: str


@strawberry.federation.type(keys=["id"])
class Book(Media):
    genre: Genre

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Book | None:
        return await info.context.loader("books.BookById").load(str(id))


@strawberry.type
class Author:
    name: str


SearchResult = Annotated[Book | Author, strawberry.union("SearchResult")]


def make_book(book_id: str) -> Book:
    genre = Genre.POETRY if int(book_id) % 2 else Genre.NOVEL
    return Book(id=strawberry.ID(book_id), title=BOOK_TITLES[book_id], genre=genre)


@strawberry.input
class BookInput:
    title: str
    genre: Genre = Genre.NOVEL


@strawberry.type
class BooksQuery:
    @strawberry.field
    def books(self, first: int = 10, genre: Genre | None = None) -> list[Book]:
        books = [make_book(str(number)) for number in range(1, first + 1)]
        return [book for book in books if genre is None or book.genre == genre]

    @strawberry.field
    def book(self, id: strawberry.ID) -> Book | None:
        return make_book(str(id)) if str(id) in BOOK_TITLES else None

    @strawberry.field
    def search(self, term: str) -> list[SearchResult]:
        return [make_book("1"), Author(name=term)]

    @strawberry.field
    def media(self) -> list[Media]:
        return [make_book("2")]

    @strawberry.field
    def greeting(self, name: str = "world") -> str:
        return f"Hello, {name}!"

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def forbidden(self) -> str:
        raise Forbidden("Not for you", reason="parental-rating")

    @strawberry.field
    def context_request_id(self, info: Info) -> str:
        return info.context.request_id


@strawberry.type
class BooksMutation:
    @strawberry.mutation
    def add_book(self, book: BookInput) -> Book:
        return Book(id=strawberry.ID("999"), title=book.title, genre=book.genre)


@strawberry.type
class BooksSubscription:
    @strawberry.subscription
    async def ticks(self, n: int = 3, delay: float = 0.0) -> AsyncGenerator[int, None]:
        TICK_STREAMS["opened"] += 1
        try:
            for number in range(n):
                if delay:
                    await asyncio.sleep(delay)
                yield number
        finally:
            TICK_STREAMS["closed"] += 1

    @strawberry.subscription
    async def lagging(self) -> AsyncGenerator[int, None]:
        """One event, then the bus gives up on this subscriber (its buffer overflowed)."""
        yield 1
        raise SubscriberTooSlow("subscriber to lagging fell behind")

    @strawberry.subscription
    async def new_books(self, n: int = 2) -> AsyncGenerator[Book, None]:
        for number in range(1, n + 1):
            yield make_book(str(number))


books_schema = strawberry.federation.Schema(
    query=BooksQuery,
    mutation=BooksMutation,
    subscription=BooksSubscription,
    types=[Book, Author],
    federation_version="2.9",
)


# --- reviews -------------------------------------------------------------------------


@strawberry.type
class Review:
    body: str
    stars: int
    book: ReviewBook


@strawberry.federation.type(keys=["id"], name="Book")
class ReviewBook:
    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ReviewBook:
        info.context.calls.review_resolve_reference_calls += 1
        return await info.context.loader("reviews.BookById").load(str(id))

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [Review(body=f"Review of {self.id}", stars=int(self.id) % 5 + 1, book=self)]

    @strawberry.field
    def review_count(self) -> int:
        return 1

    @strawberry.field
    def average_stars(self) -> float:
        return float(int(self.id) % 5 + 1)


@strawberry.type
class ReviewsQuery:
    @strawberry.field
    def top_review(self) -> Review:
        return Review(body="Best", stars=5, book=ReviewBook(id=strawberry.ID("7")))


@strawberry.type
class ReviewsSubscription:
    @strawberry.subscription
    async def review_posted(self, n: int = 2) -> AsyncGenerator[Review, None]:
        for number in range(1, n + 1):
            yield Review(
                body=f"Posted {number}",
                stars=number,
                book=ReviewBook(id=strawberry.ID(str(number))),
            )


reviews_schema = strawberry.federation.Schema(
    query=ReviewsQuery,
    subscription=ReviewsSubscription,
    types=[ReviewBook],
    federation_version="2.9",
)

SUBGRAPHS = (("books", books_schema), ("reviews", reviews_schema))
