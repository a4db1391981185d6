"""What the account mutations return: a payload or an ``AuthError``, one union per mutation."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from loaders.context import Context
from loaders.user import user_loaders
from resolvers.user.signin import Tokens
from subgraphs.user.errors import AuthError
from subgraphs.user.types import ApiKey, Profile, User

__all__ = [
    "BeginTotpEnrollmentPayload",
    "BeginTotpEnrollmentResult",
    "ChangePasswordPayload",
    "ChangePasswordResult",
    "ConfirmTotpEnrollmentPayload",
    "ConfirmTotpEnrollmentResult",
    "CreateApiKeyPayload",
    "CreateApiKeyResult",
    "CreateProfileResult",
    "CreateUserPayload",
    "CreateUserResult",
    "DeleteProfilePayload",
    "DeleteProfileResult",
    "DisableTotpResult",
    "LibraryAccessPayload",
    "LibraryAccessResult",
    "ProfilePayload",
    "RefreshTokenResult",
    "RevokeApiKeyResult",
    "RevokePayload",
    "RevokeSessionResult",
    "SetUserDisabledResult",
    "SetUserRolesResult",
    "SetupResult",
    "SignInPayload",
    "SignInResult",
    "SignOutPayload",
    "SignOutResult",
    "SwitchProfilePayload",
    "SwitchProfileResult",
    "UpdateProfileResult",
    "UpdateUserPayload",
]

Info = strawberry.Info[Context, None]


@strawberry.type
class SignInPayload:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")
    user_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_tokens(cls, tokens: Tokens) -> SignInPayload:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
            user_id=tokens.user_id,
        )

    @strawberry.field
    async def user(self, info: Info) -> User:
        row = await user_loaders(info.context).user_by_id.load(self.user_id)
        return User.from_row(row)


@strawberry.type
class SignOutPayload:
    session_id: strawberry.ID


@strawberry.type
class CreateUserPayload:
    user: User


@strawberry.type
class LibraryAccessPayload:
    library_id: strawberry.ID
    subject: str
    granted: bool


@strawberry.type
class UpdateUserPayload:
    user: User


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey
    key: str = strawberry.field(description="The key itself: shown this once, never stored.")


@strawberry.type
class RevokePayload:
    revoked_id: strawberry.ID


@strawberry.type
class ChangePasswordPayload:
    revoked_session_count: int = strawberry.field(description="Other sessions signed out.")


@strawberry.type
class ProfilePayload:
    profile: Profile


@strawberry.type
class DeleteProfilePayload:
    deleted_id: strawberry.ID


@strawberry.type
class SwitchProfilePayload:
    access_token: str
    expires_in: int
    profile: Profile


@strawberry.type
class BeginTotpEnrollmentPayload:
    secret: str
    provisioning_uri: str = strawberry.field(description="The otpauth:// URI, for a QR code.")


@strawberry.type
class ConfirmTotpEnrollmentPayload:
    recovery_codes: list[str] = strawberry.field(
        description="One-time codes for when the authenticator is lost: shown this once."
    )


SetupResult = Annotated[SignInPayload | AuthError, strawberry.union("SetupResult")]
SignInResult = Annotated[SignInPayload | AuthError, strawberry.union("SignInResult")]
RefreshTokenResult = Annotated[SignInPayload | AuthError, strawberry.union("RefreshTokenResult")]
SignOutResult = Annotated[SignOutPayload | AuthError, strawberry.union("SignOutResult")]
CreateUserResult = Annotated[CreateUserPayload | AuthError, strawberry.union("CreateUserResult")]
SetUserRolesResult = Annotated[
    UpdateUserPayload | AuthError, strawberry.union("SetUserRolesResult")
]
SetUserDisabledResult = Annotated[
    UpdateUserPayload | AuthError, strawberry.union("SetUserDisabledResult")
]
CreateApiKeyResult = Annotated[
    CreateApiKeyPayload | AuthError, strawberry.union("CreateApiKeyResult")
]
LibraryAccessResult = Annotated[
    LibraryAccessPayload | AuthError, strawberry.union("LibraryAccessResult")
]
RevokeApiKeyResult = Annotated[RevokePayload | AuthError, strawberry.union("RevokeApiKeyResult")]
RevokeSessionResult = Annotated[RevokePayload | AuthError, strawberry.union("RevokeSessionResult")]
ChangePasswordResult = Annotated[
    ChangePasswordPayload | AuthError, strawberry.union("ChangePasswordResult")
]
CreateProfileResult = Annotated[ProfilePayload | AuthError, strawberry.union("CreateProfileResult")]
UpdateProfileResult = Annotated[ProfilePayload | AuthError, strawberry.union("UpdateProfileResult")]
DeleteProfileResult = Annotated[
    DeleteProfilePayload | AuthError, strawberry.union("DeleteProfileResult")
]
SwitchProfileResult = Annotated[
    SwitchProfilePayload | AuthError, strawberry.union("SwitchProfileResult")
]
BeginTotpEnrollmentResult = Annotated[
    BeginTotpEnrollmentPayload | AuthError, strawberry.union("BeginTotpEnrollmentResult")
]
ConfirmTotpEnrollmentResult = Annotated[
    ConfirmTotpEnrollmentPayload | AuthError, strawberry.union("ConfirmTotpEnrollmentResult")
]
DisableTotpResult = Annotated[UpdateUserPayload | AuthError, strawberry.union("DisableTotpResult")]
