"""Account object types. Rows become types through ``from_row``; a user's profiles load through
the request's batch loader, so a list of users costs one statement for all their profiles."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry import Private

from loaders.context import Context
from loaders.user import user_loaders
from subgraphs.user.enums import Role
from subgraphs.user.permissions import is_admin

__all__ = ["ApiKey", "AuditEvent", "AuthSession", "Profile", "User", "parse_id"]

Info = strawberry.Info[Context, None]

_ROLES = {member.value for member in Role}


def parse_id(value: Any) -> uuid.UUID | None:
    """An opaque id as a UUID; None when it cannot be one (so: nothing has it)."""
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError, TypeError):
        return None


@strawberry.type
class Profile:
    id: strawberry.ID
    name: str
    avatar_url: str | None
    is_kids: bool
    max_rating: str | None
    allow_unrated: bool
    blocked_tags: list[str]
    allowed_tags: list[str]
    library_ids: list[strawberry.ID] | None = strawberry.field(
        description="The libraries this profile sees; null: all the account may."
    )
    audio_language: str | None
    subtitle_language: str | None
    has_pin: bool

    @classmethod
    def from_row(cls, row: Any) -> Profile:
        library_ids = row["library_ids"]
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            avatar_url=row["avatar_url"],
            is_kids=row["is_kids"],
            max_rating=row["max_rating"],
            allow_unrated=row["allow_unrated"],
            blocked_tags=list(row["blocked_tags"]),
            allowed_tags=list(row["allowed_tags"]),
            library_ids=(
                None
                if library_ids is None
                else [strawberry.ID(str(library)) for library in library_ids]
            ),
            audio_language=row["audio_language"],
            subtitle_language=row["subtitle_language"],
            has_pin=row["pin_hash"] is not None,
        )


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str
    roles: list[Role]
    is_disabled: bool
    has_second_factor: bool = strawberry.field(description="A TOTP authenticator is enrolled.")
    created_at: datetime.datetime
    user_id: Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            roles=[Role(role) for role in row["roles"] if role in _ROLES],
            is_disabled=row["is_disabled"],
            has_second_factor=row["totp_secret"] is not None,
            created_at=row["created_at"],
            user_id=row["id"],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        """Only the user themself and administrators see an account."""
        user_id = parse_id(id)
        principal = info.context.principal
        if user_id is None or not (
            str(user_id) == principal.user_id or is_admin(principal, info.context.services["authz"])
        ):
            return None
        row = await user_loaders(info.context).user_by_id.load(user_id)
        return cls.from_row(row) if row is not None else None

    @strawberry.field
    async def profiles(self, info: Info) -> list[Profile]:
        rows = await user_loaders(info.context).profiles_by_user_id.load(self.user_id)
        return [Profile.from_row(row) for row in rows]


@strawberry.type
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The key's first characters, to recognise it.")
    scopes: list[str]
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    client_id: strawberry.ID | None = strawberry.field(description="The API client it belongs to.")
    persisted_only: bool = strawberry.field(
        description="Runs only its client's registered documents."
    )

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            prefix=row["key_prefix"],
            scopes=list(row["scopes"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            client_id=strawberry.ID(str(row["client_id"])) if row["client_id"] else None,
            persisted_only=row["persisted_only"],
        )


@strawberry.type
class AuthSession:
    id: strawberry.ID
    device: str | None
    client: str | None
    client_address: str | None
    created_at: datetime.datetime
    last_seen_at: datetime.datetime
    is_current: bool = strawberry.field(description="The session this request belongs to.")
    revoked_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: Any, current_session_id: str | None) -> AuthSession:
        return cls(
            id=strawberry.ID(str(row["id"])),
            device=row["device"],
            client=row["client"],
            client_address=row["client_address"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            is_current=str(row["id"]) == current_session_id,
            revoked_at=row["revoked_at"],
        )


@strawberry.type
class AuditEvent:
    id: strawberry.ID
    actor_name: str | None
    action: str
    target: str | None
    result: str
    client_address: str | None
    created_at: datetime.datetime

    @classmethod
    def from_row(cls, row: Any) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(row["id"])),
            actor_name=row["actor_display_name"],
            action=row["action"],
            target=row["target"],
            result=row["result"],
            client_address=row["client_address"],
            created_at=row["created_at"],
        )
