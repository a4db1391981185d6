"""Errors the API shows to callers, each with a stable code.

Resolvers raise these; the gateway turns them into GraphQL errors whose
``extensions.code`` is ``code`` (and REST routes into JSON bodies with the same
code). Anything else that escapes a resolver is masked as ``INTERNAL``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadUserInput",
    "Forbidden",
    "NotFound",
    "QueryTooComplex",
    "RateLimited",
    "RevengeError",
    "Unauthenticated",
]


class RevengeError(Exception):
    """Base of every error whose message is safe to show to the caller.

    ``extensions`` go to the caller with the code; ``reason`` (why a policy, a signature or a
    token refused) is for logs only and never leaves the server.
    """

    code = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.extensions: dict[str, Any] = extensions


class BadUserInput(RevengeError):
    code = "BAD_USER_INPUT"


class NotFound(RevengeError):
    code = "NOT_FOUND"


class Forbidden(RevengeError):
    code = "FORBIDDEN"


class Unauthenticated(RevengeError):
    code = "UNAUTHENTICATED"


class RateLimited(RevengeError):
    code = "RATE_LIMITED"


class QueryTooComplex(RevengeError):
    code = "QUERY_TOO_COMPLEX"
