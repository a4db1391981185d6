"""The account mutations' error type: expected failures are part of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry

from infra.errors import BadUserInput, Forbidden, NotFound, RateLimited, RevengeError
from resolvers.user.accounts import SetupClosed
from resolvers.user.profiles import ProfileNameTaken, WrongPin
from resolvers.user.signin import InvalidCredentials, InvalidRefreshToken, SecondFactorRequired

__all__ = ["AuthError", "AuthErrorCode", "auth_error"]


@strawberry.enum
class AuthErrorCode(Enum):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    SECOND_FACTOR_REQUIRED = "SECOND_FACTOR_REQUIRED"
    RATE_LIMITED = "RATE_LIMITED"
    SETUP_CLOSED = "SETUP_CLOSED"
    NAME_TAKEN = "NAME_TAKEN"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    WRONG_PIN = "WRONG_PIN"


@strawberry.type
class AuthError:
    code: AuthErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description="The argument or input field at fault (GraphQL name), if one is."
    )


_CODES: tuple[tuple[type[RevengeError], AuthErrorCode], ...] = (
    (SecondFactorRequired, AuthErrorCode.SECOND_FACTOR_REQUIRED),
    (InvalidRefreshToken, AuthErrorCode.INVALID_REFRESH_TOKEN),
    (InvalidCredentials, AuthErrorCode.INVALID_CREDENTIALS),
    (RateLimited, AuthErrorCode.RATE_LIMITED),
    (SetupClosed, AuthErrorCode.SETUP_CLOSED),
    (ProfileNameTaken, AuthErrorCode.NAME_TAKEN),
    (WrongPin, AuthErrorCode.WRONG_PIN),
    (NotFound, AuthErrorCode.NOT_FOUND),
    (BadUserInput, AuthErrorCode.INVALID_INPUT),
    (Forbidden, AuthErrorCode.FORBIDDEN),
)


def auth_error(problem: RevengeError) -> AuthError:
    """The expected failure as a payload; anything else (a revoked session …) raises on."""
    for kind, code in _CODES:
        if isinstance(problem, kind):
            field = problem.extensions.get("field")
            return AuthError(code=code, message=problem.message, field=field)
    raise problem
