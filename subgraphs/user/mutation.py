"""Account mutations: each returns its payload or an ``AuthError``.

An anonymous caller of a mutation that needs a user is refused with ``UNAUTHENTICATED`` (an
error, not a payload); a signed-in caller without the right is answered ``AuthError(FORBIDDEN)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types.unset import UnsetType

from infra.errors import RevengeError
from infra.ratelimit import FailureLimiter
from infra.tokens import KeyRing
from loaders.context import Context
from resolvers.user.accounts import create_user, setup_first_admin
from resolvers.user.api_keys import create_api_key, revoke_api_key
from resolvers.user.grants import set_library_grant
from resolvers.user.profiles import (
    KEEP,
    ProfileFields,
    create_profile,
    delete_profile,
    switch_profile,
    update_profile,
)
from resolvers.user.second_factor import (
    begin_totp_enrollment,
    confirm_totp_enrollment,
    disable_totp,
)
from resolvers.user.sessions import change_password, revoke_session
from resolvers.user.signin import RefreshTokenReused, refresh_session, sign_in, sign_out
from resolvers.user.users import set_user_disabled, set_user_roles, user_name_taken, validate_roles
from subgraphs.user.api_clients import ApiClientMutation
from subgraphs.user.enums import Role
from subgraphs.user.errors import AuthError, AuthErrorCode, auth_error
from subgraphs.user.inputs import CreateProfileInput, CreateUserInput, UpdateProfileInput
from subgraphs.user.payloads import (
    BeginTotpEnrollmentPayload,
    BeginTotpEnrollmentResult,
    ChangePasswordPayload,
    ChangePasswordResult,
    ConfirmTotpEnrollmentPayload,
    ConfirmTotpEnrollmentResult,
    CreateApiKeyPayload,
    CreateApiKeyResult,
    CreateProfileResult,
    CreateUserPayload,
    CreateUserResult,
    DeleteProfilePayload,
    DeleteProfileResult,
    DisableTotpResult,
    LibraryAccessPayload,
    LibraryAccessResult,
    ProfilePayload,
    RefreshTokenResult,
    RevokeApiKeyResult,
    RevokePayload,
    RevokeSessionResult,
    SetupResult,
    SetUserDisabledResult,
    SetUserRolesResult,
    SignInPayload,
    SignInResult,
    SignOutPayload,
    SignOutResult,
    SwitchProfilePayload,
    SwitchProfileResult,
    UpdateProfileResult,
    UpdateUserPayload,
)
from subgraphs.user.permissions import (
    admin_refusal,
    is_admin,
    principals_changed,
    require_user,
    scopes_within,
    session_refusal,
)
from subgraphs.user.types import ApiKey, Profile, User, parse_id
from subgraphs.user.webhooks import WebhookMutation

__all__ = ["Mutation"]

Info = strawberry.Info[Context, None]


def _error(code: AuthErrorCode, message: str, field: str | None = None) -> AuthError:
    return AuthError(code=code, message=message, field=field)


def _not_found(field: str = "id") -> AuthError:
    return _error(AuthErrorCode.NOT_FOUND, "nothing of yours has this id", field)


def _key_ring(info: Info) -> KeyRing:
    ring: KeyRing = info.context.services["key_ring"]
    return ring


def _limiter(info: Info) -> FailureLimiter:
    limiter: FailureLimiter = info.context.services["limiter"]
    return limiter


async def _ratings(info: Info) -> Collection[str]:
    """The parental ratings a profile limit may name: the catalog policy's table."""
    ranks: Mapping[str, int] = await info.context.services["authz"].rating_ranks()
    return ranks.keys()


def _kept(value: Any) -> Any:
    return KEEP if isinstance(value, UnsetType) else value


@strawberry.type
class Mutation(ApiClientMutation, WebhookMutation):
    # signing in

    @strawberry.mutation
    async def setup(self, info: Info, name: str, password: str) -> SetupResult:
        """Create the first administrator and sign them in; closed once one exists."""
        context = info.context
        try:
            async with context.pool.acquire() as conn:
                await setup_first_admin(conn, name, password, client_address=context.client_address)
            tokens = await sign_in(
                context.pool, ring=_key_ring(info), limiter=_limiter(info), name=name,
                password=password, client_address=context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return SignInPayload.from_tokens(tokens)

    @strawberry.mutation
    async def sign_in(
        self,
        info: Info,
        name: str,
        password: str,
        second_factor: str | None = None,
        device: str | None = None,
        client: str | None = None,
    ) -> SignInResult:
        """secondFactor: a TOTP code or a recovery code, when the account has a second factor."""
        try:
            tokens = await sign_in(
                info.context.pool, ring=_key_ring(info), limiter=_limiter(info), name=name,
                password=password, second_factor=second_factor, device=device, client=client,
                client_address=info.context.client_address, bus=info.context.bus,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return SignInPayload.from_tokens(tokens)

    @strawberry.mutation
    async def refresh_token(self, info: Info, token: str) -> RefreshTokenResult:
        """New tokens for the session; each refresh token works once."""
        try:
            tokens = await refresh_session(
                info.context.pool, ring=_key_ring(info), refresh_token=token,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RefreshTokenReused as problem:  # the session was revoked
            await principals_changed(info, problem.user_id)
            return auth_error(problem)
        except RevengeError as problem:
            return auth_error(problem)
        return SignInPayload.from_tokens(tokens)

    @strawberry.mutation
    async def sign_out(self, info: Info) -> SignOutResult:
        """End the caller's current session (its refresh token stops working)."""
        refusal = session_refusal(info.context.principal, info.context.session_id)
        session_id = parse_id(info.context.session_id)
        if refusal is not None or session_id is None:
            return refusal or _not_found()
        await sign_out(info.context.pool, session_id)
        await principals_changed(info, info.context.principal.user_id)
        return SignOutPayload(session_id=strawberry.ID(str(session_id)))

    # administration

    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserResult:
        refusal = admin_refusal(info.context.principal, info.context.services["authz"])
        if refusal is not None:
            return refusal
        actor = require_user(info.context.principal)
        try:
            roles = validate_roles([role.value for role in input.roles])
            if await user_name_taken(info.context.pool, input.name):
                return _error(AuthErrorCode.NAME_TAKEN, "that user name is taken", "name")
            async with info.context.pool.acquire() as conn:
                row = await create_user(
                    conn, input.name, input.password, roles, actor_user_id=actor,
                    client_address=info.context.client_address, bus=info.context.bus,
                )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return CreateUserPayload(user=User.from_row(row))

    @strawberry.mutation
    async def set_user_roles(
        self, info: Info, user_id: strawberry.ID, roles: list[Role]
    ) -> SetUserRolesResult:
        values = [role.value for role in roles]
        return await _update_user(
            info, user_id,
            lambda pool, actor, target, address: set_user_roles(
                pool, actor, target, values, client_address=address
            ),
        )  # fmt: skip

    @strawberry.mutation
    async def grant_library_access(
        self,
        info: Info,
        library_id: strawberry.ID,
        user_id: strawberry.ID | None = None,
        profile_id: strawberry.ID | None = None,
    ) -> LibraryAccessResult:
        """Let an account (guests) or one profile (kids) read a library."""
        return await _library_access(info, library_id, user_id, profile_id, granted=True)

    @strawberry.mutation
    async def revoke_library_access(
        self,
        info: Info,
        library_id: strawberry.ID,
        user_id: strawberry.ID | None = None,
        profile_id: strawberry.ID | None = None,
    ) -> LibraryAccessResult:
        return await _library_access(info, library_id, user_id, profile_id, granted=False)

    @strawberry.mutation
    async def set_user_disabled(
        self, info: Info, user_id: strawberry.ID, disabled: bool
    ) -> SetUserDisabledResult:
        """Disabling signs the user out everywhere; their API keys stop working too."""
        return await _update_user(
            info, user_id,
            lambda pool, actor, target, address: set_user_disabled(
                pool, actor, target, disabled, client_address=address
            ),
        )  # fmt: skip

    # API keys and sessions

    @strawberry.mutation
    async def create_api_key(
        self,
        info: Info,
        name: str,
        scopes: list[str],
        expires_at: datetime | None = None,
        client_id: strawberry.ID | None = None,
        persisted_only: bool = False,
    ) -> CreateApiKeyResult:
        """A key for an app or automation, with at most the scopes of your own sign-in.
        clientId ties it to an API client (administrators only); a persistedOnly key runs only
        that client's registered documents."""
        principal = info.context.principal
        refusal = session_refusal(principal, info.context.session_id)
        if refusal is not None:
            return refusal
        if not scopes_within(principal.scopes, scopes):
            return _error(AuthErrorCode.FORBIDDEN, "a key cannot exceed your own scopes", "scopes")
        if expires_at is not None and (
            expires_at.tzinfo is None or expires_at <= datetime.now(UTC)
        ):
            return _error(
                AuthErrorCode.INVALID_INPUT, "expiresAt is a future time with a zone", "expiresAt"
            )
        client = parse_id(client_id) if client_id is not None else None
        if client_id is not None and client is None:
            return _not_found("clientId")
        if client is not None and not is_admin(principal, info.context.services["authz"]):
            return _error(AuthErrorCode.FORBIDDEN, "administrators only", "clientId")
        try:
            row, key = await create_api_key(
                info.context.pool, require_user(principal), name, scopes, expires_at=expires_at,
                client_address=info.context.client_address, client_id=client,
                persisted_only=persisted_only,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return CreateApiKeyPayload(api_key=ApiKey.from_row(row), key=key)

    @strawberry.mutation
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyResult:
        principal = info.context.principal
        user_id = require_user(principal)
        key_id = parse_id(id)
        try:
            if key_id is None:
                return _not_found()
            await revoke_api_key(
                info.context.pool,
                user_id,
                key_id,
                is_admin=is_admin(principal, info.context.services["authz"]),
            )
        except RevengeError as problem:
            return auth_error(problem)
        await principals_changed(info, None)  # an administrator may revoke anyone's key
        return RevokePayload(revoked_id=strawberry.ID(str(key_id)))

    @strawberry.mutation
    async def revoke_session(self, info: Info, id: strawberry.ID) -> RevokeSessionResult:
        refusal = session_refusal(info.context.principal, info.context.session_id)
        session_id = parse_id(id)
        if refusal is not None or session_id is None:
            return refusal or _not_found()
        try:
            await revoke_session(
                info.context.pool, require_user(info.context.principal), session_id,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        await principals_changed(info, None)  # an administrator may revoke anyone's session
        return RevokePayload(revoked_id=strawberry.ID(str(session_id)))

    @strawberry.mutation
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> ChangePasswordResult:
        """Every other session is signed out; this one stays."""
        refusal = session_refusal(info.context.principal, info.context.session_id)
        if refusal is not None:
            return refusal
        try:
            revoked = await change_password(
                info.context.pool, require_user(info.context.principal), current_password,
                new_password, parse_id(info.context.session_id), limiter=_limiter(info),
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        await principals_changed(info, info.context.principal.user_id)
        return ChangePasswordPayload(revoked_session_count=revoked)

    # profiles

    @strawberry.mutation
    async def create_profile(self, info: Info, input: CreateProfileInput) -> CreateProfileResult:
        library_ids = _library_ids(input.library_ids)
        if isinstance(library_ids, AuthError):
            return library_ids
        fields = ProfileFields(
            name=input.name, avatar_url=input.avatar_url, is_kids=input.is_kids,
            max_rating=input.max_rating,
            allow_unrated=(
                not input.is_kids if input.allow_unrated is None else input.allow_unrated
            ),
            blocked_tags=input.blocked_tags, allowed_tags=input.allowed_tags,
            library_ids=library_ids, audio_language=input.audio_language,
            subtitle_language=input.subtitle_language, pin=input.pin,
        )  # fmt: skip
        require_user(info.context.principal)
        try:
            row = await create_profile(
                info.context.pool, info.context.principal, fields,
                ratings=await _ratings(info), client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return ProfilePayload(profile=Profile.from_row(row))

    @strawberry.mutation
    async def update_profile(
        self, info: Info, id: strawberry.ID, input: UpdateProfileInput
    ) -> UpdateProfileResult:
        require_user(info.context.principal)
        profile_id = parse_id(id)
        library_ids = _library_ids(input.library_ids)
        if profile_id is None or isinstance(library_ids, AuthError):
            return _not_found() if profile_id is None else library_ids
        fields = ProfileFields(
            name=KEEP if input.name is None else _kept(input.name),
            avatar_url=_kept(input.avatar_url),
            is_kids=KEEP if input.is_kids is None else _kept(input.is_kids),
            max_rating=_kept(input.max_rating),
            allow_unrated=KEEP if input.allow_unrated is None else _kept(input.allow_unrated),
            blocked_tags=KEEP if input.blocked_tags is None else _kept(input.blocked_tags),
            allowed_tags=KEEP if input.allowed_tags is None else _kept(input.allowed_tags),
            library_ids=library_ids,
            audio_language=_kept(input.audio_language),
            subtitle_language=_kept(input.subtitle_language),
            pin=_kept(input.pin),
        )
        try:
            row = await update_profile(
                info.context.pool, info.context.principal, profile_id, fields,
                ratings=await _ratings(info), client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        await principals_changed(info, row["user_id"])  # the profile's limits are the principal's
        return ProfilePayload(profile=Profile.from_row(row))

    @strawberry.mutation
    async def delete_profile(self, info: Info, id: strawberry.ID) -> DeleteProfileResult:
        """Sessions on the profile are signed out; the last profile cannot be deleted."""
        require_user(info.context.principal)
        profile_id = parse_id(id)
        try:
            if profile_id is None:
                return _not_found()
            await delete_profile(
                info.context.pool, info.context.principal, profile_id,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        await principals_changed(info, None)  # its sessions were signed out, whoever's they were
        return DeleteProfilePayload(deleted_id=strawberry.ID(str(profile_id)))

    @strawberry.mutation
    async def switch_profile(
        self, info: Info, profile_id: strawberry.ID, pin: str | None = None
    ) -> SwitchProfileResult:
        """A new access token for this session on another profile of the account."""
        principal = info.context.principal
        refusal = session_refusal(principal, info.context.session_id)
        target = parse_id(profile_id)
        session_id = parse_id(info.context.session_id)
        if refusal is not None or target is None or session_id is None:
            return refusal or _not_found("profileId")
        try:
            switched = await switch_profile(
                info.context.pool, ring=_key_ring(info), limiter=_limiter(info),
                user_id=require_user(principal), session_id=session_id, profile_id=target,
                pin=pin, client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return SwitchProfilePayload(
            access_token=switched.access_token,
            expires_in=switched.expires_in,
            profile=Profile.from_row(switched.profile),
        )

    # second factor

    @strawberry.mutation
    async def begin_totp_enrollment(self, info: Info) -> BeginTotpEnrollmentResult:
        """A new authenticator secret; nothing changes until confirmTotpEnrollment."""
        refusal = session_refusal(info.context.principal, info.context.session_id)
        if refusal is not None:
            return refusal
        try:
            enrollment = await begin_totp_enrollment(
                info.context.pool, require_user(info.context.principal)
            )
        except RevengeError as problem:
            return auth_error(problem)
        return BeginTotpEnrollmentPayload(
            secret=enrollment.secret, provisioning_uri=enrollment.provisioning_uri
        )

    @strawberry.mutation
    async def confirm_totp_enrollment(
        self, info: Info, secret: str, code: str
    ) -> ConfirmTotpEnrollmentResult:
        """Turn the second factor on with the secret from beginTotpEnrollment and a code the
        authenticator made from it."""
        refusal = session_refusal(info.context.principal, info.context.session_id)
        if refusal is not None:
            return refusal
        try:
            codes = await confirm_totp_enrollment(
                info.context.pool, require_user(info.context.principal), secret, code,
                client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return ConfirmTotpEnrollmentPayload(recovery_codes=codes)

    @strawberry.mutation
    async def disable_totp(self, info: Info, password: str) -> DisableTotpResult:
        refusal = session_refusal(info.context.principal, info.context.session_id)
        if refusal is not None:
            return refusal
        try:
            row = await disable_totp(
                info.context.pool, require_user(info.context.principal), password,
                limiter=_limiter(info), client_address=info.context.client_address,
            )  # fmt: skip
        except RevengeError as problem:
            return auth_error(problem)
        return UpdateUserPayload(user=User.from_row(row))


def _library_ids(values: list[strawberry.ID] | UnsetType | None) -> Any:
    """Parsed library ids (KEEP when left out, None for all), or an AuthError."""
    if isinstance(values, UnsetType):
        return KEEP
    if values is None:
        return None
    parsed = [parse_id(value) for value in values]
    if any(value is None for value in parsed):
        return _error(AuthErrorCode.INVALID_INPUT, "libraryIds has a malformed id", "libraryIds")
    return parsed


async def _update_user(
    info: Info,
    user_id: strawberry.ID,
    change: Callable[[Any, uuid.UUID, uuid.UUID, str | None], Awaitable[Any]],
) -> UpdateUserPayload | AuthError:
    """An administrator's change to another account: refusals, the change, the updated user."""
    refusal = admin_refusal(info.context.principal, info.context.services["authz"])
    target = parse_id(user_id)
    if refusal is not None or target is None:
        return refusal or _not_found("userId")
    try:
        row = await change(
            info.context.pool,
            require_user(info.context.principal),
            target,
            info.context.client_address,
        )
    except RevengeError as problem:
        return auth_error(problem)
    await principals_changed(info, target)  # roles or disabled: the principal changed
    return UpdateUserPayload(user=User.from_row(row))


async def _library_access(
    info: Info,
    library_id: strawberry.ID,
    user_id: strawberry.ID | None,
    profile_id: strawberry.ID | None,
    *,
    granted: bool,
) -> LibraryAccessResult:
    refusal = admin_refusal(info.context.principal, info.context.services["authz"])
    if refusal is not None:
        return refusal
    library = parse_id(library_id)
    if library is None:
        return _not_found("libraryId")
    try:
        subject = await set_library_grant(
            info.context.pool,
            info.context.services["authz"].casbin,
            actor_user_id=require_user(info.context.principal),
            library_id=library,
            user_id=parse_id(user_id) if user_id is not None else None,
            profile_id=parse_id(profile_id) if profile_id is not None else None,
            granted=granted,
            bus=info.context.bus,
            client_address=info.context.client_address,
        )
    except RevengeError as problem:
        return auth_error(problem)
    return LibraryAccessPayload(
        library_id=strawberry.ID(str(library)), subject=subject, granted=granted
    )
