"""Request-scoped batch loaders, grouped by domain (``context.loaders.catalog``)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from infra.authz.service import VisibilityFilter
from loaders.catalog import CatalogLoaders
from loaders.visibility import EVERYTHING

__all__ = ["Loaders"]


class Loaders:
    """A fresh set per request: aiodataloader binds the running loop and caches per request."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        visibility: VisibilityFilter | Callable[[], VisibilityFilter] = EVERYTHING,
    ) -> None:
        self.pool = pool
        self.catalog = CatalogLoaders(pool, visibility)
