"""The Strawberry extension every subgraph schema uses: errors carry the same
``extensions.code`` when a subgraph runs alone (``revenge subgraph NAME``) as the gateway gives
them when it composes the subgraphs."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from infra.errors import RevengeError

__all__ = ["RevengeErrorCodes", "with_error_code"]

log = structlog.get_logger("revenge.graphql")


def with_error_code(error: GraphQLError) -> GraphQLError:
    """Give an error raised as a ``RevengeError`` its ``extensions.code``."""
    original = error.original_error
    if isinstance(original, RevengeError):
        if original.reason is not None:  # for the log, never for the caller
            log.info("graphql.refused", path=error.path, code=original.code, reason=original.reason)
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
