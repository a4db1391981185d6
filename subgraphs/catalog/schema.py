"""The catalog subgraph: a Federation v2 schema that a router could serve on its own."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from infra.errors import RevengeError
from subgraphs.catalog.mutation import Mutation
from subgraphs.catalog.query import Query
from subgraphs.catalog.subscription import Subscription
from subgraphs.catalog.types import LONG_SCALAR, Long

__all__ = ["RevengeErrorCodes", "schema"]


def with_error_code(error: GraphQLError) -> GraphQLError:
    """Give an error raised as a ``RevengeError`` its ``extensions.code``."""
    original = error.original_error
    if isinstance(original, RevengeError):
        error.extensions = {
            **(error.extensions or {}),
            **original.extensions,
            "code": original.code,
        }
    return error


class RevengeErrorCodes(SchemaExtension):
    """When the subgraph runs alone, errors carry the same codes the gateway gives them."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            for error in errors:
                with_error_code(error)


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    federation_version="2.9",
    extensions=[RevengeErrorCodes],
    config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
)
