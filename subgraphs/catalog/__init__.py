"""The catalog subgraph: libraries, media items and their files, scans."""

from subgraphs.catalog.schema import schema

__all__ = ["schema"]
