"""Typed, frozen settings read once at start-up.

Precedence: built-in defaults < YAML file named by ``REVENGE_CONFIG`` < ``REVENGE_*``
environment variables. Each setting has one environment name and one dotted YAML path
(``REVENGE_SERVER_PORT`` ↔ ``server.port``). A bad value raises ``SettingsError`` whose
message is one line naming the key and the problem; the CLI prints it and exits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs
import yaml

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """A setting has a value Revenge cannot use; the message names the key."""


# What one server process may grow to under load (idle: ~150 MB; bench/federation.py).
MEMORY_PER_WORKER = 512 * 1024 * 1024


def _available_memory() -> int:
    """MemAvailable from /proc/meminfo (bytes); unknown counts as plenty."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 1 << 62


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class Settings:
    server_host: str = "127.0.0.1"
    server_port: int = 8080
    # Server processes `revenge serve` runs on the port (0: one per core, capped by memory).
    server_workers: int = 0
    database_url: str | None = None
    database_pool_min_conns: int = 1
    database_pool_max_conns: int = 10
    cache_url: str | None = None
    opa_url: str | None = None
    # The folder of *.rego policies evaluated in-process (None: policies/ of the source tree).
    policies_dir: str | None = None
    data_dir: str = ""
    log_level: str = "info"
    log_format: str = "text"
    # One line per HTTP request and per WebSocket connect/close (gateway/access_log.py).
    log_access: bool = True
    dev_mode: bool = False
    worker_in_process: bool = True
    worker_concurrency: int = 2
    probe_workers: int = 0
    probe_timeout_seconds: float = 30.0
    graphql_max_depth: int = 15
    graphql_max_tokens: int = 5000
    graphql_max_fields: int = 5000
    graphql_ws_max_connections_per_user: int = 20
    graphql_ws_max_operations: int = 100
    graphql_ws_max_pending: int = 2000
    graphql_ws_max_pending_per_address: int = 32
    # Playback: resume rules, heartbeat coalescing, stream limits and session leases.
    playback_min_resume_percent: float = 5.0
    playback_played_percent: float = 90.0
    playback_played_remaining_seconds: int = 300
    playback_heartbeat_flush_seconds: float = 5.0
    playback_lease_seconds: int = 60
    playback_max_streams_per_user: int = 10
    playback_max_streams_per_profile: int = 4
    playback_max_remuxes: int = 4
    party_ready_timeout_seconds: float = 15.0
    graphql_ws_recheck_seconds: float = 60.0
    # Transcoding: scratch space for segments, encoders per worker, hardware use.
    transcode_scratch_dir: str = ""
    transcode_scratch_max_mb: int = 20_000
    transcode_max_per_worker: int = 2
    transcode_hardware: str = "auto"
    # Where other processes reach this process's transcoder for segments (unset: derived from
    # server.host/port for `serve`, worker.http_port for `worker`).
    worker_address: str | None = None
    worker_http_port: int = 8081
    # Outbound webhooks: retries (exponential back-off with jitter), disabling, worker slots.
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = 1.0
    webhook_retry_max_seconds: float = 600.0
    webhook_disable_after_failures: int = 5
    webhook_concurrency: int = 8
    # Retention (the hourly job in resolvers/user/retention.py).
    webhook_retention_days: float = 30.0
    persisted_query_retention_days: float = 90.0
    # Metrics: /metrics answers 404 unless enabled; enabled, it needs `Authorization: Bearer
    # <metrics.token>` (a token is required to enable it).
    # Access-token signing keys: a new key this often (0: only by `revenge keys rotate`).
    auth_key_rotation_days: float = 30.0
    metrics_enabled: bool = False
    metrics_token: str | None = None

    @property
    def embedded_database_dir(self) -> Path:
        return Path(self.data_dir) / "postgres"

    @property
    def effective_scratch_dir(self) -> Path:
        return Path(self.transcode_scratch_dir or Path(self.data_dir) / "transcodes")

    @property
    def effective_server_workers(self) -> int:
        """``server.workers``, or one process per core with at least ``MEMORY_PER_WORKER`` of the
        memory available now for each (a 4-core NAS with 1 GB free runs two)."""
        if self.server_workers:
            return self.server_workers
        return max(1, min(_cores(), _available_memory() // MEMORY_PER_WORKER))

    @property
    def effective_probe_workers(self) -> int:
        return self.probe_workers or max(1, os.cpu_count() or 1)


def _as_str(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"must be a string, got {value!r}")
    return str(value).strip()


def _as_int(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"must be an integer, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return convert


def _as_float(low: float, high: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"must be a number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return convert


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _as_str(value).lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return convert


def _url(*schemes: str) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        text = _as_str(value)
        if not text:
            return None
        parsed = urlparse(text)
        if parsed.scheme not in schemes:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return text

    return convert


def _directory(value: Any) -> str:
    text = _as_str(value)
    if not text:
        raise ValueError("must not be empty")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{text!r} exists and is not a directory")
    return str(path.resolve())


def _policies_dir(value: Any) -> str | None:
    text = _as_str(value)
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_dir() or not any(path.glob("*.rego")):
        raise ValueError(f"{text!r} is not a directory of .rego files")
    return str(path.resolve())


def _token(value: Any) -> str | None:
    text = _as_str(value)
    if not text:
        return None
    if len(text) < 16 or not all(33 <= ord(c) < 127 for c in text):
        raise ValueError("must be at least 16 printable ASCII characters without spaces")
    return text


def _host(value: Any) -> str:
    text = _as_str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"must be a host name or address, got {value!r}")
    return text


# field name -> (environment variable, YAML path, converter)
_SPEC: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "server_host": ("REVENGE_SERVER_HOST", "server.host", _host),
    "server_port": ("REVENGE_SERVER_PORT", "server.port", _as_int(1, 65535)),
    "server_workers": ("REVENGE_SERVER_WORKERS", "server.workers", _as_int(0, 256)),
    "database_url": ("REVENGE_DATABASE_URL", "database.url", _url("postgresql", "postgres")),
    "database_pool_min_conns": (
        "REVENGE_DATABASE_POOL_MIN_CONNS",
        "database.pool_min_conns",
        _as_int(0, 1000),
    ),
    "database_pool_max_conns": (
        "REVENGE_DATABASE_POOL_MAX_CONNS",
        "database.pool_max_conns",
        _as_int(1, 1000),
    ),
    "cache_url": ("REVENGE_CACHE_URL", "cache.url", _url("redis", "rediss", "unix")),
    "opa_url": ("REVENGE_OPA_URL", "authorization.opa_url", _url("http", "https")),
    "policies_dir": ("REVENGE_POLICIES_DIR", "authorization.policies_dir", _policies_dir),
    "data_dir": ("REVENGE_DATA_DIR", "data_dir", _directory),
    "log_level": ("REVENGE_LOG_LEVEL", "log.level", _one_of(*LOG_LEVELS)),
    "log_format": ("REVENGE_LOG_FORMAT", "log.format", _one_of("json", "text")),
    "log_access": ("REVENGE_LOG_ACCESS", "log.access", _as_bool),
    "dev_mode": ("REVENGE_DEV_MODE", "dev_mode", _as_bool),
    "worker_in_process": ("REVENGE_WORKER_IN_PROCESS", "worker.in_process", _as_bool),
    "worker_concurrency": (
        "REVENGE_WORKER_CONCURRENCY",
        "worker.concurrency",
        _as_int(1, 256),
    ),
    "probe_workers": ("REVENGE_PROBE_WORKERS", "scanner.probe_workers", _as_int(0, 256)),
    "probe_timeout_seconds": (
        "REVENGE_PROBE_TIMEOUT_SECONDS",
        "scanner.probe_timeout_seconds",
        _as_float(0.1, 3600),
    ),
    "graphql_max_depth": ("REVENGE_GRAPHQL_MAX_DEPTH", "graphql.max_depth", _as_int(2, 100)),
    "graphql_max_tokens": (
        "REVENGE_GRAPHQL_MAX_TOKENS",
        "graphql.max_tokens",
        _as_int(50, 1_000_000),
    ),
    "graphql_max_fields": (
        "REVENGE_GRAPHQL_MAX_FIELDS",
        "graphql.max_fields",
        _as_int(10, 1_000_000),
    ),
    "graphql_ws_max_connections_per_user": (
        "REVENGE_GRAPHQL_WS_MAX_CONNECTIONS_PER_USER",
        "graphql.ws_max_connections_per_user",
        _as_int(0, 100_000),
    ),
    "graphql_ws_max_operations": (
        "REVENGE_GRAPHQL_WS_MAX_OPERATIONS",
        "graphql.ws_max_operations",
        _as_int(0, 100_000),
    ),
    "graphql_ws_max_pending": (
        "REVENGE_GRAPHQL_WS_MAX_PENDING",
        "graphql.ws_max_pending",
        _as_int(0, 1_000_000),
    ),
    "graphql_ws_max_pending_per_address": (
        "REVENGE_GRAPHQL_WS_MAX_PENDING_PER_ADDRESS",
        "graphql.ws_max_pending_per_address",
        _as_int(0, 1_000_000),
    ),
    "playback_min_resume_percent": (
        "REVENGE_PLAYBACK_MIN_RESUME_PERCENT",
        "playback.min_resume_percent",
        _as_float(0, 100),
    ),
    "playback_played_percent": (
        "REVENGE_PLAYBACK_PLAYED_PERCENT",
        "playback.played_percent",
        _as_float(1, 100),
    ),
    "playback_played_remaining_seconds": (
        "REVENGE_PLAYBACK_PLAYED_REMAINING_SECONDS",
        "playback.played_remaining_seconds",
        _as_int(0, 24 * 3600),
    ),
    "playback_heartbeat_flush_seconds": (
        "REVENGE_PLAYBACK_HEARTBEAT_FLUSH_SECONDS",
        "playback.heartbeat_flush_seconds",
        _as_float(0.05, 300),
    ),
    "playback_lease_seconds": (
        "REVENGE_PLAYBACK_LEASE_SECONDS",
        "playback.lease_seconds",
        _as_int(5, 24 * 3600),
    ),
    "playback_max_streams_per_user": (
        "REVENGE_PLAYBACK_MAX_STREAMS_PER_USER",
        "playback.max_streams_per_user",
        _as_int(0, 10_000),
    ),
    "playback_max_streams_per_profile": (
        "REVENGE_PLAYBACK_MAX_STREAMS_PER_PROFILE",
        "playback.max_streams_per_profile",
        _as_int(0, 10_000),
    ),
    "transcode_scratch_dir": (
        "REVENGE_TRANSCODE_SCRATCH_DIR",
        "transcode.scratch_dir",
        lambda value: _directory(value) if _as_str(value) else "",
    ),
    "transcode_scratch_max_mb": (
        "REVENGE_TRANSCODE_SCRATCH_MAX_MB",
        "transcode.scratch_max_mb",
        _as_int(100, 100_000_000),
    ),
    "transcode_max_per_worker": (
        "REVENGE_TRANSCODE_MAX_PER_WORKER",
        "transcode.max_per_worker",
        _as_int(1, 256),
    ),
    "transcode_hardware": (
        "REVENGE_TRANSCODE_HARDWARE",
        "transcode.hardware",
        _one_of("auto", "software", "nvenc", "qsv", "vaapi"),
    ),
    "worker_address": ("REVENGE_WORKER_ADDRESS", "worker.address", _url("http", "https")),
    "worker_http_port": ("REVENGE_WORKER_HTTP_PORT", "worker.http_port", _as_int(1, 65535)),
    "playback_max_remuxes": (
        "REVENGE_PLAYBACK_MAX_REMUXES",
        "playback.max_remuxes",
        _as_int(1, 256),
    ),
    "graphql_ws_recheck_seconds": (
        "REVENGE_GRAPHQL_WS_RECHECK_SECONDS",
        "graphql.ws_recheck_seconds",
        _as_float(0, 86_400),
    ),
    "party_ready_timeout_seconds": (
        "REVENGE_PARTY_READY_TIMEOUT_SECONDS",
        "party.ready_timeout_seconds",
        _as_float(1, 600),
    ),
    "webhook_max_attempts": (
        "REVENGE_WEBHOOK_MAX_ATTEMPTS",
        "webhooks.max_attempts",
        _as_int(1, 50),
    ),
    "webhook_retry_base_seconds": (
        "REVENGE_WEBHOOK_RETRY_BASE_SECONDS",
        "webhooks.retry_base_seconds",
        _as_float(0.001, 3600),
    ),
    "webhook_retry_max_seconds": (
        "REVENGE_WEBHOOK_RETRY_MAX_SECONDS",
        "webhooks.retry_max_seconds",
        _as_float(0.001, 7 * 86_400),
    ),
    "webhook_disable_after_failures": (
        "REVENGE_WEBHOOK_DISABLE_AFTER_FAILURES",
        "webhooks.disable_after_failures",
        _as_int(1, 10_000),
    ),
    "webhook_concurrency": (
        "REVENGE_WEBHOOK_CONCURRENCY",
        "webhooks.concurrency",
        _as_int(1, 256),
    ),
    "webhook_retention_days": (
        "REVENGE_WEBHOOK_RETENTION_DAYS",
        "webhooks.retention_days",
        _as_float(1, 3650),
    ),
    "persisted_query_retention_days": (
        "REVENGE_PERSISTED_QUERY_RETENTION_DAYS",
        "graphql.persisted_query_retention_days",
        _as_float(1, 3650),
    ),
    "auth_key_rotation_days": (
        "REVENGE_AUTH_KEY_ROTATION_DAYS",
        "auth.key_rotation_days",
        _as_float(0, 3650),
    ),
    "metrics_enabled": ("REVENGE_METRICS_ENABLED", "metrics.enabled", _as_bool),
    "metrics_token": ("REVENGE_METRICS_TOKEN", "metrics.token", _token),
}

_ENV_NAMES = {env for env, _, _ in _SPEC.values()} | {"REVENGE_CONFIG"}


def _lookup(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _read_yaml(path: str) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as error:
        raise SettingsError(f"REVENGE_CONFIG: cannot read {path!r}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"REVENGE_CONFIG: {path!r} is not valid YAML{where}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise SettingsError(f"REVENGE_CONFIG: {path!r} must hold a mapping at the top level")
    return loaded


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from defaults, the YAML file and the environment, in that order."""
    env = os.environ if environ is None else environ
    for name in env:
        if (
            name.startswith("REVENGE_")
            and name not in _ENV_NAMES
            and not name.startswith(("REVENGE_TEST_", "REVENGE_BENCH_"))
        ):
            raise SettingsError(f"{name}: unknown setting")
    tree: Mapping[str, Any] = {}
    config_path = env.get("REVENGE_CONFIG")
    if config_path:
        tree = _read_yaml(config_path)
    values: dict[str, Any] = {}
    for field in fields(Settings):
        env_name, yaml_path, convert = _SPEC[field.name]
        raw: Any
        if env_name in env:
            raw, key = env[env_name], env_name
        else:
            found, raw = _lookup(tree, yaml_path)
            if not found:
                continue
            key = f"{yaml_path} (in {config_path})"
        try:
            values[field.name] = convert(raw)
        except ValueError as error:
            raise SettingsError(f"{key}: {error}") from None
    if "data_dir" not in values:
        values["data_dir"] = platformdirs.user_data_dir("revenge", appauthor=False)
    settings = Settings(**values)
    if settings.database_pool_min_conns > settings.database_pool_max_conns:
        raise SettingsError(
            "REVENGE_DATABASE_POOL_MIN_CONNS: must not exceed REVENGE_DATABASE_POOL_MAX_CONNS"
        )
    if settings.playback_min_resume_percent >= settings.playback_played_percent:
        raise SettingsError(
            "REVENGE_PLAYBACK_MIN_RESUME_PERCENT: must be below REVENGE_PLAYBACK_PLAYED_PERCENT"
        )
    if settings.playback_lease_seconds < 3 * settings.playback_heartbeat_flush_seconds:
        # A session that reports on time must never look stale because its heartbeats wait
        # in memory for the next flush.
        raise SettingsError(
            "REVENGE_PLAYBACK_LEASE_SECONDS: must be at least three heartbeat flush intervals"
        )
    if settings.metrics_enabled and settings.metrics_token is None:
        # The series describe every route and its traffic: not for anyone who reaches the port.
        raise SettingsError("REVENGE_METRICS_TOKEN: must be set when metrics are enabled")
    return settings
