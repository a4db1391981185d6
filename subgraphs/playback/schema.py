"""The playback subgraph: a Federation v2 schema that a router could serve on its own."""

from __future__ import annotations

import strawberry

from infra.graphql_errors import RevengeErrorCodes
from subgraphs.playback.mutation import Mutation
from subgraphs.playback.query import Query
from subgraphs.playback.subscription import Subscription
from subgraphs.playback.types import MediaItem

__all__ = ["schema"]


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[MediaItem],
    federation_version="2.9",
    extensions=[RevengeErrorCodes],
)
