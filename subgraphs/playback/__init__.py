"""The playback subgraph: sessions, progress and each profile's watch state."""

from subgraphs.playback.schema import schema

__all__ = ["schema"]
