"""The catalog subgraph: a Federation v2 schema that a router could serve on its own."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from infra.graphql_errors import RevengeErrorCodes
from subgraphs.catalog.mutation import Mutation
from subgraphs.catalog.query import Query
from subgraphs.catalog.subscription import Subscription
from subgraphs.catalog.types import LONG_SCALAR, Long

__all__ = ["RevengeErrorCodes", "schema"]


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    federation_version="2.9",
    extensions=[RevengeErrorCodes],
    config=StrawberryConfig(scalar_map={Long: LONG_SCALAR}),
)
