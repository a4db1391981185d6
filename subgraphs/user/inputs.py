"""Account mutation inputs."""

from __future__ import annotations

import strawberry

from subgraphs.user.enums import Role

__all__ = ["CreateProfileInput", "CreateUserInput", "UpdateProfileInput"]


@strawberry.input
class CreateUserInput:
    name: str
    password: str
    roles: list[Role] = strawberry.field(default_factory=lambda: [Role.USER])


@strawberry.input
class CreateProfileInput:
    name: str
    avatar_url: str | None = None
    is_kids: bool = False
    max_rating: str | None = strawberry.field(
        default=None, description="The highest parental rating shown (e.g. PG, TV-14); null: any."
    )
    allow_unrated: bool | None = strawberry.field(
        default=None, description="Show unrated items; by default yes, except on kids profiles."
    )
    blocked_tags: list[str] = strawberry.field(default_factory=list)
    allowed_tags: list[str] = strawberry.field(default_factory=list)
    library_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The libraries this profile sees; null: all the account may."
    )
    audio_language: str | None = None
    subtitle_language: str | None = None
    pin: str | None = strawberry.field(default=None, description="4 to 8 digits; null: no PIN.")


@strawberry.input(
    description="Fields left out keep their value; null clears a nullable one (no rating limit, "
    "every library, no PIN) and keeps a non-null one."
)
class UpdateProfileInput:
    name: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET
    is_kids: bool | None = strawberry.UNSET
    max_rating: str | None = strawberry.UNSET
    allow_unrated: bool | None = strawberry.UNSET
    blocked_tags: list[str] | None = strawberry.UNSET
    allowed_tags: list[str] | None = strawberry.UNSET
    library_ids: list[strawberry.ID] | None = strawberry.UNSET
    audio_language: str | None = strawberry.UNSET
    subtitle_language: str | None = strawberry.UNSET
    pin: str | None = strawberry.UNSET
