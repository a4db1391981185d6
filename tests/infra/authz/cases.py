"""Decision tables shared by the Rego, OPA and ratings tests."""

from __future__ import annotations

from typing import Any


def profile(
    max_rating: str | None = None,
    *,
    allow_unrated: bool = False,
    blocked: tuple[str, ...] = (),
    allowed: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "max_rating": max_rating,
        "allow_unrated": allow_unrated,
        "blocked_tags": list(blocked),
        "allowed_tags": list(allowed),
    }


def item(rating: str | None, *tags: str) -> dict[str, Any]:
    return {"rating": rating, "tags": list(tags)}


# (input, expected decision)
CATALOG_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"item": item("R"), "profile": profile()}, {"allow": True, "reasons": []}),
    ({"item": item("G"), "profile": profile("G")}, {"allow": True, "reasons": []}),
    ({"item": item("TV-Y"), "profile": profile("G")}, {"allow": True, "reasons": []}),
    ({"item": item("PG"), "profile": profile("G")}, {"allow": False, "reasons": ["rating"]}),
    ({"item": item("PG"), "profile": profile("TV-PG")}, {"allow": True, "reasons": []}),
    ({"item": item("pg-13 "), "profile": profile("PG-13")}, {"allow": True, "reasons": []}),
    ({"item": item("12"), "profile": profile("PG")}, {"allow": False, "reasons": ["rating"]}),
    ({"item": item("TV-MA"), "profile": profile("TV-14")}, {"allow": False, "reasons": ["rating"]}),
    ({"item": item("15"), "profile": profile("R")}, {"allow": True, "reasons": []}),
    ({"item": item("NC-17"), "profile": profile("R")}, {"allow": False, "reasons": ["rating"]}),
    ({"item": item("X"), "profile": profile("18")}, {"allow": True, "reasons": []}),
    ({"item": item(None), "profile": profile("PG")}, {"allow": False, "reasons": ["rating"]}),
    ({"item": item("NR"), "profile": profile("PG")}, {"allow": False, "reasons": ["rating"]}),
    (
        {"item": item(None), "profile": profile("PG", allow_unrated=True)},
        {"allow": True, "reasons": []},
    ),
    ({"item": item(None), "profile": profile()}, {"allow": True, "reasons": []}),
    (
        {"item": item("G", "Horror"), "profile": profile("PG", blocked=("horror",))},
        {"allow": False, "reasons": ["blocked_tag"]},
    ),
    (
        {"item": item("G", "animation"), "profile": profile(allowed=("Animation", "family"))},
        {"allow": True, "reasons": []},
    ),
    (
        {"item": item("G", "documentary"), "profile": profile(allowed=("animation",))},
        {"allow": False, "reasons": ["no_allowed_tag"]},
    ),
    (
        {"item": item("R"), "profile": profile("PG", blocked=("gore",), allowed=("animation",))},
        {"allow": False, "reasons": ["no_allowed_tag", "rating"]},
    ),
    (
        {
            "item": item("PG", "animation", "gore"),
            "profile": profile("PG", blocked=("gore",), allowed=("animation",)),
        },
        {"allow": False, "reasons": ["blocked_tag"]},
    ),
]

QAR_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"scopes": ["legacy:read"], "pin_unlocked": True}, {"allow": True, "reasons": []}),
    ({"scopes": ["legacy:read"], "pin_unlocked": False}, {"allow": False, "reasons": ["pin"]}),
    ({"scopes": ["catalog:read"], "pin_unlocked": True}, {"allow": False, "reasons": ["scope"]}),
    ({"scopes": ["*"], "pin_unlocked": True}, {"allow": False, "reasons": ["scope"]}),
    ({"scopes": ["legacy:*"], "pin_unlocked": True}, {"allow": False, "reasons": ["scope"]}),
    ({"scopes": [], "pin_unlocked": False}, {"allow": False, "reasons": ["pin", "scope"]}),
    ({"scopes": ["legacy:read"], "pin_unlocked": "true"}, {"allow": False, "reasons": ["pin"]}),
]


def normalized(decision: Any) -> Any:
    """Sets come back as arrays; compare them sorted."""
    if isinstance(decision, dict) and "reasons" in decision:
        return {**decision, "reasons": sorted(decision["reasons"])}
    return decision
