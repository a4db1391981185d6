"""Catalog loaders (placeholder until the catalog read side lands)."""

from __future__ import annotations

import asyncpg


class CatalogLoaders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
