"""The user subgraph: a Federation v2 schema that a router could serve on its own."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from infra.errors import RevengeError
from subgraphs.user.mutation import Mutation
from subgraphs.user.query import Query
from subgraphs.user.types import User

__all__ = ["schema"]


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
    types=[User],
    federation_version="2.9",
    extensions=[RevengeErrorCodes],
)
