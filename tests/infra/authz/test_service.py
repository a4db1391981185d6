from __future__ import annotations

import pytest

from infra.authz.casbin_engine import ALL, CasbinEngine
from infra.authz.principal import ANONYMOUS, Principal
from infra.authz.rego_engine import RegoEngine
from infra.authz.service import AuthorizationService, Resource, VisibilityFilter, subjects_of
from infra.errors import Forbidden

ALICE = "0190a000-0000-7000-8000-00000000000a"
BOB = "0190a000-0000-7000-8000-00000000000b"
KID_PROFILE = "0190a000-0000-7000-8000-00000000000c"
MOVIES = "0190a000-0000-7000-8000-0000000000f1"
SHOWS = "0190a000-0000-7000-8000-0000000000f2"
HOUSEHOLD = frozenset({"catalog:*", "playback:*"})

USER = Principal(ALICE, roles=frozenset({"user"}), scopes=HOUSEHOLD, auth_method="jwt")
GUEST = Principal(BOB, roles=frozenset({"guest"}), scopes=HOUSEHOLD, auth_method="jwt")
KID = Principal(
    ALICE,
    profile_id=KID_PROFILE,
    roles=frozenset({"admin"}),
    scopes=HOUSEHOLD,
    auth_method="jwt",
    is_kids=True,
    max_rating="PG",
    blocked_tags=frozenset({"Horror"}),
)


@pytest.fixture(scope="module")
def service() -> AuthorizationService:
    casbin = CasbinEngine(
        [
            ("p", f"user:{BOB}", f"library:{MOVIES}", "catalog", "read"),
            ("p", f"profile:{KID_PROFILE}", f"library:{SHOWS}", "catalog", "read"),
        ]
    )
    return AuthorizationService(casbin, RegoEngine())


async def test_a_user_reads_any_library_item(service: AuthorizationService) -> None:
    decision = await service.can(USER, "read", Resource.catalog_item(SHOWS, "R"))

    assert (decision.allowed, decision.reason) == (True, "allowed")


async def test_a_guest_reads_only_its_granted_library(service: AuthorizationService) -> None:
    assert (await service.can(GUEST, "read", Resource.catalog_item(MOVIES, "R"))).allowed
    refused = await service.can(GUEST, "read", Resource.catalog_item(SHOWS, "G"))

    assert (refused.allowed, refused.reason) == (False, "no role or grant allows read on catalog")


async def test_a_kids_profile_gets_rego_limits_and_not_its_accounts_roles(
    service: AuthorizationService,
) -> None:
    assert subjects_of(KID) == [f"profile:{KID_PROFILE}", "role:kids"]
    assert (await service.can(KID, "read", Resource.catalog_item(SHOWS, "TV-G"))).allowed
    too_old = await service.can(KID, "read", Resource.catalog_item(SHOWS, "PG-13"))
    scary = await service.can(KID, "read", Resource.catalog_item(SHOWS, "G", ("horror",)))
    elsewhere = await service.can(KID, "read", Resource.catalog_item(MOVIES, "G"))
    admin = await service.can(KID, "write", Resource("admin:users"))

    assert (too_old.allowed, too_old.reason) == (False, "catalog policy: rating")
    assert (scary.allowed, scary.reason) == (False, "catalog policy: blocked_tag")
    assert elsewhere.allowed is False
    assert admin.allowed is False


async def test_an_api_key_without_the_scope_is_refused(service: AuthorizationService) -> None:
    key = Principal(
        ALICE, roles=frozenset({"user"}), scopes=frozenset({"playback:read"}), auth_method="api_key"
    )

    decision = await service.can(key, "read", Resource.catalog_item(MOVIES, "G"))

    assert (decision.allowed, decision.reason) == (False, "missing scope catalog:read")
    assert (await service.can(key, "read", Resource("playback", owner_id=ALICE))).allowed


async def test_playback_state_of_others_needs_admin(service: AuthorizationService) -> None:
    admin = Principal(ALICE, roles=frozenset({"admin"}), scopes=frozenset({"*"}))

    assert (await service.can(USER, "write", Resource("playback", owner_id=ALICE))).allowed
    assert not (await service.can(USER, "read", Resource("playback", owner_id=BOB))).allowed
    assert (await service.can(admin, "read", Resource("playback", owner_id=BOB))).allowed


async def test_qar_needs_role_scope_legacy_read_and_pin(service: AuthorizationService) -> None:
    def user(scopes: set[str], pin: bool) -> Principal:
        return Principal(
            ALICE, roles=frozenset({"user"}), scopes=frozenset(scopes), pin_unlocked=pin
        )

    allowed = await service.can(user({"legacy:read"}, True), "read", Resource("qar"))
    locked = await service.can(user({"legacy:read"}, False), "read", Resource("qar"))
    wildcard = await service.can(user({"*"}, True), "read", Resource("qar"))
    no_scope = await service.can(user({"catalog:read"}, True), "read", Resource("qar"))
    guest = await service.can(
        Principal(
            BOB, roles=frozenset({"guest"}), scopes=frozenset({"legacy:read"}), pin_unlocked=True
        ),
        "read",
        Resource("qar"),
    )

    assert allowed.allowed is True
    assert (locked.allowed, locked.reason) == (False, "qar policy: pin")
    assert (wildcard.allowed, wildcard.reason) == (False, "qar policy: scope")
    assert (no_scope.allowed, no_scope.reason) == (False, "missing scope legacy:read")
    assert guest.allowed is False


async def test_require_raises_forbidden(service: AuthorizationService) -> None:
    with pytest.raises(Forbidden) as raised:
        await service.require(ANONYMOUS, "read", Resource.catalog_item(MOVIES, "G"))

    assert raised.value.code == "FORBIDDEN"
    assert (raised.value.reason, raised.value.extensions) == (
        "no role or grant allows read on catalog",
        {},
    )
    await service.require(USER, "write", Resource("playback", owner_id=ALICE))


async def test_visibility_for_sql(service: AuthorizationService) -> None:
    assert await service.visibility(USER) == VisibilityFilter(library_ids=ALL)
    assert await service.visibility(GUEST) == VisibilityFilter(library_ids=frozenset({MOVIES}))
    assert await service.visibility(KID) == VisibilityFilter(
        library_ids=frozenset({SHOWS}),
        max_rating_rank=10,
        allow_unrated=False,
        blocked_tags=frozenset({"horror"}),
        allowed_tags=frozenset(),
    )
    assert (await service.visibility(ANONYMOUS)).nothing_visible is True
    no_catalog_scope = Principal(ALICE, roles=frozenset({"user"}), scopes=frozenset({"playback:*"}))
    assert (await service.visibility(no_catalog_scope)).nothing_visible is True
