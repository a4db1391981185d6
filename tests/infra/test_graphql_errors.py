"""A subgraph alone gives errors the gateway's codes, and keeps their reasons for its log."""

from __future__ import annotations

from graphql import GraphQLError
from structlog.testing import capture_logs

from infra.errors import Forbidden
from infra.graphql_errors import with_error_code


def test_a_refusal_gets_its_code_and_its_reason_goes_to_the_log_only() -> None:
    refused = Forbidden("not allowed to write admin:libraries", reason="missing scope admin:write")
    error = GraphQLError("x", path=["createLibrary"], original_error=refused)

    with capture_logs() as logs:
        with_error_code(error)

    assert error.extensions == {"code": "FORBIDDEN"}
    assert logs == [
        {
            "event": "graphql.refused",
            "path": ["createLibrary"],
            "code": "FORBIDDEN",
            "reason": "missing scope admin:write",
            "log_level": "info",
        }
    ]
