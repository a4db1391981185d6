"""The user subgraph: accounts, profiles, sign-in, sessions, API keys and the audit trail."""

from subgraphs.user.schema import schema

__all__ = ["schema"]
