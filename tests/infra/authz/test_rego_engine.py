from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.authz.rego_engine import PolicyError, RegoEngine, open_policy_engine, rule_path
from tests.infra.authz.cases import CATALOG_CASES, QAR_CASES, normalized


@pytest.fixture(scope="module")
def rego() -> RegoEngine:
    return RegoEngine()


@pytest.mark.parametrize(("input", "expected"), CATALOG_CASES)
def test_catalog_decisions(rego: RegoEngine, input: dict[str, Any], expected: Any) -> None:
    assert normalized(rego.evaluate("revenge/catalog/decision", input)) == expected
    assert rego.evaluate("data.revenge.catalog.allow", input) is expected["allow"]


@pytest.mark.parametrize(("input", "expected"), QAR_CASES)
def test_qar_needs_legacy_read_and_an_unlocked_pin(
    rego: RegoEngine, input: dict[str, Any], expected: Any
) -> None:
    assert normalized(rego.evaluate("revenge/qar/decision", input)) == expected
    assert rego.evaluate("revenge.qar.allow", input) is expected["allow"]


def test_entitlement_allows_by_default_until_billing_exists(rego: RegoEngine) -> None:
    input = {"user_id": "u1", "resource": {"kind": "playback", "library_id": None}}

    assert rego.evaluate("revenge/entitlement/decision", input) == {"allow": True, "reasons": []}


def test_a_rule_outside_the_entrypoints_is_compiled_on_first_use(rego: RegoEngine) -> None:
    input = {"item": {"rating": "PG-13", "tags": []}, "profile": {"max_rating": "R"}}

    assert rego.evaluate("revenge/catalog/max_rank", input) == 17
    assert rego.evaluate("revenge/catalog/item_rank", input) == 13


def test_an_undefined_rule_is_none(rego: RegoEngine) -> None:
    assert rego.evaluate("revenge/catalog/item_rank", {"item": {"rating": None}}) is None


def test_a_policy_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text("package broken\n\nallow if {\n", encoding="utf-8")

    with pytest.raises(PolicyError):
        RegoEngine(tmp_path, entrypoints=["broken/allow"])


def test_rule_paths() -> None:
    assert rule_path("data.revenge.qar.allow") == "revenge/qar/allow"
    assert rule_path("revenge/qar/allow") == "revenge/qar/allow"


async def test_open_policy_engine_is_in_process_without_an_opa_url() -> None:
    engine = open_policy_engine(None)

    assert isinstance(engine, RegoEngine)
    assert await engine.decide("revenge/qar/allow", {"scopes": [], "pin_unlocked": True}) is False


def test_rego_eval_timing(rego: RegoEngine, capsys: pytest.CaptureFixture[str]) -> None:
    rego.times.clear()
    input, _ = CATALOG_CASES[-1]
    for _ in range(500):
        rego.evaluate("revenge/catalog/decision", input)
    median = rego.times.median()
    assert median is not None
    with capsys.disabled():
        print(f"\nrego_eval_median {median * 1e6:.1f} us (catalog decision, regopy)")
