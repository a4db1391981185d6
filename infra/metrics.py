"""Prometheus metrics of the process, exposed by the gateway at ``/metrics``.

Every label takes its values from a closed set, so no client can grow the number of series:
request methods outside ``HTTP_METHODS`` count as ``other``, statuses outside the registered
HTTP statuses as ``other``, routes are the app's route templates (``/stream/{file_id}``) or
``unmatched`` (the gateway's middleware decides), GraphQL operation types and outcomes are
fixed lists.
"""

from __future__ import annotations

import os
from http import HTTPStatus

from prometheus_client import CONTENT_TYPE_LATEST as METRICS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

__all__ = [
    "GRAPHQL_OPERATION_TYPES",
    "GRAPHQL_OUTCOMES",
    "HTTP_METHODS",
    "METRICS_CONTENT_TYPE",
    "OTHER",
    "UNMATCHED",
    "Metrics",
    "method_label",
    "status_label",
]

# prometheus-client's multiprocess mode: where every process writes its values.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
UNMATCHED = "unmatched"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUSES = frozenset(status.value for status in HTTPStatus)
GRAPHQL_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
GRAPHQL_OUTCOMES = frozenset({"ok", "error"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if status in _STATUSES else OTHER


class Metrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "revenge_http_requests_total",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "revenge_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
        )
        self.graphql_operations = Counter(
            "revenge_graphql_operations_total",
            "GraphQL operations executed",
            ["operation_type", "outcome"],
            registry=self.registry,
        )

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request answered; ``route`` is a route template or ``UNMATCHED``."""
        method = method_label(method)
        self.http_requests.labels(method, route, status_label(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    def count_graphql(self, operation_type: str, outcome: str) -> None:
        operation_type = operation_type if operation_type in GRAPHQL_OPERATION_TYPES else OTHER
        outcome = outcome if outcome in GRAPHQL_OUTCOMES else OTHER
        self.graphql_operations.labels(operation_type, outcome).inc()

    def render(self) -> bytes:
        """This app's series; under `revenge serve`'s several processes (prometheus-client's
        multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR`` set by ``gateway.cluster``) the sums over
        every process, read from their files. Reads files: call it off the event loop."""
        if os.environ.get(MULTIPROCESS_DIR_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
