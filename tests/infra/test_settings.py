from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import SettingsError, load_settings


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = load_settings({"REVENGE_DATA_DIR": str(tmp_path)})
    assert settings.server_host == "127.0.0.1"
    assert settings.server_port == 8080
    assert settings.database_url is None
    assert settings.cache_url is None
    assert settings.log_format == "text"
    assert settings.data_dir == str(tmp_path.resolve())
    assert (settings.metrics_enabled, settings.metrics_token) == (False, None)


def test_environment_overrides_yaml_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "revenge.yaml"
    config.write_text("server:\n  port: 9000\n  host: 0.0.0.0\nlog:\n  format: json\n")
    settings = load_settings(
        {"REVENGE_CONFIG": str(config), "REVENGE_SERVER_PORT": "9100", "REVENGE_DATA_DIR": "/tmp"}
    )
    assert settings.server_port == 9100
    assert settings.server_host == "0.0.0.0"
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"REVENGE_SERVER_PORT": "eighty"},
            "REVENGE_SERVER_PORT: must be an integer, got 'eighty'",
        ),
        ({"REVENGE_SERVER_PORT": "70000"}, "REVENGE_SERVER_PORT: must be between 1 and 65535"),
        ({"REVENGE_LOG_FORMAT": "xml"}, "REVENGE_LOG_FORMAT: must be one of json, text"),
        ({"REVENGE_DATABASE_URL": "mysql://x"}, "REVENGE_DATABASE_URL: must be a URL starting"),
        ({"REVENGE_DATABASE_POOL_MAX_CONNS": "0"}, "REVENGE_DATABASE_POOL_MAX_CONNS: must be"),
        ({"REVENGE_SERVR_PORT": "1"}, "REVENGE_SERVR_PORT: unknown setting"),
        (
            {"REVENGE_METRICS_ENABLED": "true"},
            "REVENGE_METRICS_TOKEN: must be set when metrics are enabled",
        ),
        (
            {"REVENGE_METRICS_ENABLED": "true", "REVENGE_METRICS_TOKEN": "short"},
            "REVENGE_METRICS_TOKEN: must be at least 16 printable ASCII characters",
        ),
        (
            {"REVENGE_METRICS_TOKEN": "a token with spaces in it"},
            "REVENGE_METRICS_TOKEN: must be at least 16 printable ASCII characters",
        ),
    ],
)
def test_a_bad_value_names_the_key_in_one_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"REVENGE_DATA_DIR": "/tmp", **environ})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server: [unclosed\n")
    with pytest.raises(SettingsError, match=r"REVENGE_CONFIG: .*not valid YAML"):
        load_settings({"REVENGE_CONFIG": str(config)})


def test_yaml_value_errors_name_the_yaml_key(tmp_path: Path) -> None:
    config = tmp_path / "revenge.yaml"
    config.write_text("server:\n  port: nope\n")
    with pytest.raises(SettingsError, match=r"^server\.port \(in .*\): must be an integer"):
        load_settings({"REVENGE_CONFIG": str(config)})


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings({"REVENGE_DATA_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.server_port = 1  # type: ignore[misc]


def test_playback_settings_from_yaml_and_their_cross_checks(tmp_path: Path) -> None:
    config = tmp_path / "revenge.yaml"
    config.write_text(
        "playback:\n  min_resume_percent: 3\n  played_percent: 95\n"
        "  played_remaining_seconds: 120\n  lease_seconds: 30\n  heartbeat_flush_seconds: 2\n"
        "  max_streams_per_user: 3\n  max_streams_per_profile: 0\n"
    )
    base = {"REVENGE_CONFIG": str(config), "REVENGE_DATA_DIR": str(tmp_path)}

    settings = load_settings(base)

    assert (
        settings.playback_min_resume_percent,
        settings.playback_played_percent,
        settings.playback_played_remaining_seconds,
        settings.playback_lease_seconds,
        settings.playback_heartbeat_flush_seconds,
        settings.playback_max_streams_per_user,
        settings.playback_max_streams_per_profile,
    ) == (3.0, 95.0, 120, 30, 2.0, 3, 0)
    with pytest.raises(SettingsError, match=r"^REVENGE_PLAYBACK_MIN_RESUME_PERCENT: must be below"):
        load_settings({**base, "REVENGE_PLAYBACK_MIN_RESUME_PERCENT": "95"})
    with pytest.raises(SettingsError, match=r"^REVENGE_PLAYBACK_LEASE_SECONDS: must be at least"):
        load_settings({**base, "REVENGE_PLAYBACK_HEARTBEAT_FLUSH_SECONDS": "11"})
    with pytest.raises(SettingsError, match=r"^REVENGE_PLAYBACK_MAX_STREAMS_PER_USER: must be"):
        load_settings({**base, "REVENGE_PLAYBACK_MAX_STREAMS_PER_USER": "-1"})


def test_metrics_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "revenge.yaml"
    config.write_text("metrics:\n  enabled: true\n  token: prometheus-0123456789\n")
    settings = load_settings({"REVENGE_CONFIG": str(config), "REVENGE_DATA_DIR": str(tmp_path)})
    assert (settings.metrics_enabled, settings.metrics_token) == (True, "prometheus-0123456789")
