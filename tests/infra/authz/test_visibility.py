"""The catalog policy's ``visibility`` rule decides what list queries filter on, and an edited
policy file changes the answer without a Python change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.principal import Principal
from infra.authz.rego_engine import POLICIES_DIR, PolicyError, RegoEngine
from infra.authz.service import AuthorizationService, VisibilityFilter, visibility_from

ALICE = "0190a000-0000-7000-8000-00000000000a"
KID_PROFILE = "0190a000-0000-7000-8000-00000000000c"
MOVIES = "0190a000-0000-7000-8000-0000000000f1"
SHOWS = "0190a000-0000-7000-8000-0000000000f2"
HOUSEHOLD = frozenset({"catalog:*", "playback:*"})

KID = Principal(
    ALICE, profile_id=KID_PROFILE, scopes=HOUSEHOLD, auth_method="jwt", is_kids=True,
    max_rating="PG", allowed_tags=frozenset({"Family", "Cartoon"}),
)  # fmt: skip


def view(**profile: Any) -> dict[str, Any]:
    grants = profile.pop("grants", {"all_libraries": True, "library_ids": []})
    base = {"max_rating": None, "allow_unrated": False, "is_kids": False, "blocked_tags": [],
            "allowed_tags": [], "library_ids": None}  # fmt: skip
    return {"profile": {**base, **profile}, "grants": grants}


def answer(**values: Any) -> dict[str, Any]:
    base = {"all_libraries": True, "library_ids": [], "max_rank": None, "allow_unrated": True,
            "blocked_tags": [], "allowed_tags": []}  # fmt: skip
    return {**base, **values}


@pytest.mark.parametrize(
    ("input", "expected"),
    [
        (view(), answer()),
        (view(max_rating=" pg "), answer(max_rank=10, allow_unrated=False)),
        (view(max_rating="PG", allow_unrated=True), answer(max_rank=10)),
        # A kids profile is capped at the policy's kids_max_rating (PG-13), whatever its own.
        (view(is_kids=True), answer(max_rank=13, allow_unrated=False)),
        (view(is_kids=True, max_rating="R"), answer(max_rank=13, allow_unrated=False)),
        (view(is_kids=True, max_rating="G"), answer(max_rank=0, allow_unrated=False)),
        (view(is_kids=True, max_rating="TV-Y7"), answer(max_rank=7, allow_unrated=False)),
        # A limit the table does not know sees no rated item.
        (view(max_rating="Approved"), answer(max_rank=-1, allow_unrated=False)),
        (view(blocked_tags=["Horror", "gore"]), answer(blocked_tags=["gore", "horror"])),
        (view(allowed_tags=["Family"]), answer(allowed_tags=["family"])),
        (view(library_ids=["b", "a"]), answer(all_libraries=False, library_ids=["a", "b"])),
        (
            view(grants={"all_libraries": False, "library_ids": ["a", "c"]}),
            answer(all_libraries=False, library_ids=["a", "c"]),
        ),
        (
            view(library_ids=["a", "b"], grants={"all_libraries": False, "library_ids": ["a"]}),
            answer(all_libraries=False, library_ids=["a"]),
        ),
        (
            view(library_ids=[], grants={"all_libraries": True, "library_ids": []}),
            answer(all_libraries=False, library_ids=[]),
        ),
    ],
)
def test_the_visibility_rule(input: dict[str, Any], expected: dict[str, Any]) -> None:
    assert RegoEngine().evaluate("revenge/catalog/visibility", input) == expected


def test_a_malformed_visibility_answer_is_an_error_not_a_view() -> None:
    with pytest.raises(PolicyError):
        visibility_from(None)
    with pytest.raises(PolicyError):
        visibility_from(answer(max_rank="10"))
    with pytest.raises(PolicyError):
        visibility_from(answer(library_ids="a"))
    assert visibility_from(answer(all_libraries=False, library_ids=["a"])) == VisibilityFilter(
        library_ids=frozenset({"a"})
    )


def policies_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, folder)
    return folder


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "catalog.rego"
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new), encoding="utf-8")


async def test_an_edited_policy_file_changes_the_view_of_a_running_service(
    tmp_path: Path,
) -> None:
    folder = policies_copy(tmp_path)
    casbin = CasbinEngine([("p", f"profile:{KID_PROFILE}", f"library:{SHOWS}", "catalog", "read")])
    service = AuthorizationService(casbin, RegoEngine(folder, reload_interval=0))
    before = await service.visibility(KID)
    assert before == VisibilityFilter(
        library_ids=frozenset({SHOWS}), max_rating_rank=10, allow_unrated=False,
        allowed_tags=frozenset({"family", "cartoon"}),
    )  # fmt: skip

    edit(folder, 'kids_max_rating := "PG-13"', 'kids_max_rating := "TV-Y7"')

    after = await service.visibility(KID)
    assert after.max_rating_rank == 7
    assert await service.policies.version() == 1


async def test_policies_that_no_longer_compile_keep_the_last_good_ones(tmp_path: Path) -> None:
    folder = policies_copy(tmp_path)
    service = AuthorizationService(CasbinEngine(), RegoEngine(folder, reload_interval=0))
    edit(folder, "kids_max_rating :=", "kids_max_rating = = ")

    assert (await service.visibility(KID)).max_rating_rank == 10
    assert await service.policies.version() == 0


async def test_a_new_grant_changes_a_cached_view(pool: asyncpg.Pool) -> None:
    casbin = CasbinEngine()
    service = AuthorizationService(casbin, RegoEngine())
    assert await service.visibility(KID) == VisibilityFilter(
        library_ids=frozenset(), max_rating_rank=10, allow_unrated=False,
        allowed_tags=frozenset({"family", "cartoon"}),
    )  # fmt: skip
    async with pool.acquire() as conn:
        await casbin.add_grant(conn, f"profile:{KID_PROFILE}", MOVIES)

    assert (await service.visibility(KID)).library_ids == frozenset({MOVIES})


async def test_the_rank_table_comes_from_the_policy(tmp_path: Path) -> None:
    folder = policies_copy(tmp_path)
    service = AuthorizationService(CasbinEngine(), RegoEngine(folder, reload_interval=0))
    assert (await service.rating_ranks())["TV-MA"] == 17
    edit(folder, '"R": 17, "TV-MA": 17,', '"R": 17, "TV-MA": 18,')

    assert (await service.rating_ranks())["TV-MA"] == 18
