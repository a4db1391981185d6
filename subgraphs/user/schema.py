"""The user subgraph: a Federation v2 schema that a router could serve on its own."""

from __future__ import annotations

import strawberry

from infra.graphql_errors import RevengeErrorCodes
from subgraphs.user.mutation import Mutation
from subgraphs.user.query import Query
from subgraphs.user.types import User

__all__ = ["schema"]


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    types=[User],
    federation_version="2.9",
    extensions=[RevengeErrorCodes],
)
