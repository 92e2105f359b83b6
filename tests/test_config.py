from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.config import load_settings
from smartcron.errors import ConfigError


def test_home_puts_config_database_and_logs_in_one_folder(tmp_path: Path) -> None:
    s = load_settings({"SMARTCRON_HOME": str(tmp_path)}, euid=1000)
    assert s.config_file == str(tmp_path / "smartcron.toml")
    assert s.database_url == f"sqlite:///{tmp_path / 'data' / 'smartcron.db'}"
    assert (s.log_dir, s.run_dir) == (str(tmp_path / "logs"), str(tmp_path / "run"))


def test_root_without_home_follows_fhs() -> None:
    s = load_settings({}, euid=0)
    assert (s.config_file, s.data_dir, s.log_dir) == (
        "/etc/smartcron/smartcron.toml",
        "/var/lib/smartcron",
        "/var/log/smart-cron",
    )


def test_a_user_without_home_follows_xdg(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    s = load_settings(env, euid=1000)
    assert s.config_file == str(tmp_path / ".config" / "smartcron" / "smartcron.toml")
    assert s.data_dir == str(tmp_path / ".local" / "share" / "smartcron")
    assert s.log_dir == str(tmp_path / "state" / "smartcron" / "logs")


def test_environment_wins_over_file_and_file_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "smartcron.toml").write_text(
        'timezone = "Pacific/Auckland"\n[smtp]\nhost = "mail.example"\nport = 587\n[alert]\nemail_to = ["a@x"]\n'
    )
    env = {"SMARTCRON_HOME": str(tmp_path), "SMARTCRON_SMTP_PORT": "2525", "SMARTCRON_ALERT_EMAIL_TO": "b@x, c@x"}
    s = load_settings(env, euid=1000)
    assert (s.timezone, s.smtp_host, s.smtp_port) == ("Pacific/Auckland", "mail.example", 2525)
    assert s.alert_email_to == ("b@x", "c@x")
    assert s.smtp_starttls is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMARTCRON_SMTP_PORT": "abc"}, "setting SMARTCRON_SMTP_PORT: expected an integer, got 'abc'"),
        ({"SMARTCRON_SMTP_PORT": "70000"}, "setting SMARTCRON_SMTP_PORT: expected a value from 1 to 65535"),
        ({"SMARTCRON_SMTP_STARTTLS": "maybe"}, "expected true or false"),
        ({"SMARTCRON_TIMEZONE": "Mars/Base"}, "setting timezone (SMARTCRON_TIMEZONE): unknown time zone 'Mars/Base'"),
        ({"SMARTCRON_DATABASE_URL": "oracle://x"}, "setting database.url (SMARTCRON_DATABASE_URL)"),
        ({"SMARTCRON_NODE_TAGS": "gpu, bad tag"}, "setting node_tags (SMARTCRON_NODE_TAGS): 'bad tag' is not a tag"),
        (
            {"SMARTCRON_RUNNER_LEASE_SECONDS": "1.5"},
            "setting runner.lease_seconds (SMARTCRON_RUNNER_LEASE_SECONDS): must be at least two heartbeats "
            "(runner.heartbeat_interval is 1 s, so 2 s or more)",
        ),
        (
            {"SMARTCRON_RUNNER_HEARTBEAT_INTERVAL": "10"},  # a heartbeat over the default lease
            "setting runner.lease_seconds (SMARTCRON_RUNNER_LEASE_SECONDS): must be at least two heartbeats",
        ),
        ({"SMARTCRON_FAILPOINT": "after_lunch"}, "unknown failpoint 'after_lunch'"),
        (
            {"SMARTCRON_HEALTH_DISK_WARN_PERCENT": "95"},
            "health.disk_critical_percent (SMARTCRON_HEALTH_DISK_CRITICAL_PERCENT): must not be below",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"SMARTCRON_HOME": str(tmp_path)} | env, euid=1000)
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_unknown_keys_and_broken_files_are_named(tmp_path: Path) -> None:
    cfg = tmp_path / "smartcron.toml"
    cfg.write_text("[smtp]\nhots = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown setting smtp\.hots"):
        load_settings({"SMARTCRON_HOME": str(tmp_path)}, euid=1000)
    cfg.write_text("timezone = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"SMARTCRON_HOME": str(tmp_path)}, euid=1000)


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({}, config_file=tmp_path / "nope.toml", euid=1000)
