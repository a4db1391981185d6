"""The serve command's logging: tracebacks without local variables, secrets redacted in every
line, ours and the libraries'."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from infra.authz.principal import Principal
from infra.logging import configure_logging
from infra.settings import Settings

PASSWORD = "hunter2-db-password"
DATABASE_URL = f"postgresql://revenge:{PASSWORD}@db.internal:5432/revenge"
METRICS_TOKEN = "metrics-token-0123456789"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.fixture
def serve_logging(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> Iterator[str]:
    """``configure_logging`` as ``revenge serve`` calls it, in the format under test, writing
    to the captured stderr."""
    fmt: str = request.param
    configure_logging("info", fmt)
    try:
        yield fmt
    finally:
        structlog.reset_defaults()
        logging.getLogger("httpx").setLevel(logging.NOTSET)


def _connect(settings: Settings, principal: Principal) -> None:
    pool_size = settings.database_pool_max_conns  # noqa: F841 (a local a traceback could show)
    raise ConnectionError(f"cannot reach {settings.database_url}")


def _serve_one_request() -> None:
    settings = Settings(database_url=DATABASE_URL, metrics_token=METRICS_TOKEN)
    principal = Principal(user_id="0190a7c2-0000-7000-8000-00000000000a", roles=frozenset({"a"}))
    try:
        _connect(settings, principal)
    except ConnectionError:
        structlog.get_logger("revenge").exception("request failed", settings=settings)


@pytest.mark.parametrize("serve_logging", ["text", "json"], indirect=True)
def test_a_traceback_is_logged_without_locals_or_the_database_password(
    serve_logging: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_one_request()

    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ConnectionError: cannot reach postgresql://revenge:***@db.internal:5432/revenge" in err
    assert PASSWORD not in err
    assert METRICS_TOKEN not in err
    assert "Principal(" not in err  # no locals
    assert "pool_size" not in err.replace("pool_size = settings", "")  # the source line only
    assert len(err.splitlines()) < 30
    if serve_logging == "json":
        assert json.loads(err)["event"] == "request failed"


@pytest.mark.parametrize("serve_logging", ["json"], indirect=True)
def test_library_log_lines_are_redacted_too(
    serve_logging: str, capsys: pytest.CaptureFixture[str]
) -> None:
    library = logging.getLogger("some.library")

    library.warning("GET https://worker:8081/hls/s/360p/seg_00001.ts?exp=199&uid=u1&sig=abcdef")
    library.warning("headers: {'Authorization': 'Bearer %s', 'x': 1}", JWT)
    try:
        raise OSError(f"connect failed: {DATABASE_URL}")
    except OSError:
        library.exception("pool failed")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines[:2]] == [
        "GET https://worker:8081/hls/s/360p/seg_00001.ts"
        "?exp=[redacted]&uid=[redacted]&sig=[redacted]",
        "headers: {'Authorization': '[redacted]', 'x': 1}",
    ]
    assert (lines[2]["event"], lines[2]["logger"]) == ("pool failed", "some.library")
    assert "OSError: connect failed: postgresql://revenge:***@db.internal" in lines[2]["exception"]
    assert PASSWORD not in json.dumps(lines)


@pytest.mark.parametrize("serve_logging", ["json"], indirect=True)
def test_secret_fields_and_tokens_in_our_lines_are_redacted(
    serve_logging: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = structlog.get_logger("revenge")

    log.info(
        "signed in",
        authorization=f"Bearer {JWT}",
        api_key="rvg_" + "k" * 43,
        note=f"token {JWT} and key rvg_{'k' * 43}",
        database_url=DATABASE_URL,
        headers={"X-Api-Key": "rvg_" + "k" * 43, "accept": "*/*"},
    )

    line = json.loads(capsys.readouterr().err)
    assert {key: line[key] for key in ("authorization", "api_key", "note", "database_url")} == {
        "authorization": "[redacted]",
        "api_key": "[redacted]",
        "note": "token [redacted] and key rvg_[redacted]",
        "database_url": "postgresql://db.internal:5432/…",
    }
    assert line["headers"] == {"X-Api-Key": "[redacted]", "accept": "*/*"}
