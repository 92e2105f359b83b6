"""Settings: one TOML file plus ``SMARTCRON_*`` environment variables, parsed and validated once.

Each setting has one name. In the file it lives in a section (``[smtp] host``) or at the top
level (``timezone``); its attribute joins the two (``smtp_host``) and its environment variable is
``SMARTCRON_`` plus the attribute in capitals (``SMARTCRON_SMTP_HOST``). The environment wins over
the file, the file over the defaults. Components get a ``Settings`` and never read the environment.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.errors import ConfigError

CONFIG_FILE_NAME = "smartcron.toml"
SECTIONS = ("database", "runner", "alert", "smtp", "web", "retention", "health", "backup")


def _meta(help_: str, *, minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    return {"help": help_, "min": minimum, "max": maximum}


@dataclass(frozen=True, slots=True)
class Settings:
    # Top level.
    home: str | None = field(default=None, metadata=_meta("one folder for config, database and logs"))
    config_file: str | None = field(default=None, metadata=_meta("the TOML file these came from"))
    data_dir: str = field(default="", metadata=_meta("SQLite database, backups, web secret"))
    log_dir: str = field(default="", metadata=_meta("master.log, health.log, tasks/*.log"))
    run_dir: str = field(default="", metadata=_meta("locks and runtime files"))
    timezone: str = field(default="UTC", metadata=_meta("time zone of tasks that name none"))
    node: str = field(default="", metadata=_meta("this runner's name (default: host name)"))
    node_tags: tuple[str, ...] = field(
        default=(), metadata=_meta("this runner's tags: tasks whose nodes list one of them run here too")
    )
    failpoint: tuple[str, ...] = field(
        default=(), metadata=_meta("for the fault tests only: crash at these places (smartcron.failpoints)")
    )
    clock_offset_file: str = field(
        default="", metadata=_meta("for the fault tests only: a file of seconds added to this process's wall clock")
    )
    # [database]
    database_url: str = field(default="", metadata=_meta("SQLAlchemy URL of the store"))
    # [runner]
    runner_heartbeat_interval: float = field(
        default=1.0,
        metadata=_meta("seconds between heartbeats (each renews the leases of running runs)", minimum=0.1, maximum=60),
    )
    runner_max_parallel: int = field(
        default=256,
        metadata=_meta("running tasks at once (at most (ulimit -n - 256) / 3)", minimum=1, maximum=10000),
    )
    runner_output_preview_kb: int = field(default=64, metadata=_meta("tail kept in the row", minimum=0, maximum=1024))
    runner_shutdown_grace: float = field(default=30.0, metadata=_meta("seconds on stop", minimum=0, maximum=3600))
    runner_max_missed_rows: int = field(
        default=100, metadata=_meta("missed rows before one summary row", minimum=1, maximum=100000)
    )
    runner_lease_seconds: float = field(
        default=5.0,
        metadata=_meta(
            "seconds a running run's lease lasts unrenewed; a node that stops renewing has its runs taken "
            "over after this (at least two heartbeats)",
            minimum=0.2,
            maximum=3600,
        ),
    )
    # [alert]
    alert_email_from: str = field(default="smartcron@localhost", metadata=_meta("From: of alert mail"))
    alert_email_to: tuple[str, ...] = field(default=(), metadata=_meta("recipients of every alert"))
    alert_urls: tuple[str, ...] = field(default=(), metadata=_meta("apprise URLs"))
    alert_high_delay: float = field(
        default=900.0, metadata=_meta("seconds before a high alert mails", minimum=0, maximum=86400)
    )
    alert_renotify_interval: float = field(
        default=3600.0, metadata=_meta("seconds between reminders", minimum=60, maximum=30 * 86400)
    )
    alert_database_down_after: float = field(
        default=60.0,
        metadata=_meta("seconds a runner cannot reach its database before it mails so (not via the database)",
                       minimum=0, maximum=86400),
    )  # fmt: skip
    alert_digest_threshold: int = field(
        default=5, metadata=_meta("alerts per minute before a digest", minimum=1, maximum=10000)
    )
    # [smtp]
    smtp_host: str = field(default="", metadata=_meta("mail server; empty: no email"))
    smtp_port: int = field(default=25, metadata=_meta("mail server port", minimum=1, maximum=65535))
    smtp_username: str = field(default="", metadata=_meta("login at the mail server; empty: none"))
    smtp_password: str = field(default="", metadata=_meta("password at the mail server"))
    smtp_starttls: bool = field(default=False, metadata=_meta("STARTTLS after connecting"))
    smtp_tls: bool = field(default=False, metadata=_meta("TLS from the start (port 465)"))
    smtp_timeout: float = field(
        default=10.0, metadata=_meta("seconds to wait for the mail server", minimum=0.1, maximum=300)
    )
    # [web]
    web_host: str = field(default="127.0.0.1", metadata=_meta("address the dashboard listens on"))
    web_port: int = field(default=8080, metadata=_meta("port the dashboard listens on", minimum=1, maximum=65535))
    web_base_url: str = field(default="", metadata=_meta("public URL, used for links in mail"))
    web_display_timezone: str = field(
        default="", metadata=_meta("time zone of every time the dashboard shows (default: timezone)")
    )
    # [retention]
    retention_executions_days: int = field(
        default=90, metadata=_meta("days execution rows are kept", minimum=1, maximum=36500)
    )
    retention_alerts_days: int = field(
        default=365, metadata=_meta("days resolved alerts are kept", minimum=1, maximum=36500)
    )
    retention_health_days: int = field(
        default=30, metadata=_meta("days health-check results are kept", minimum=1, maximum=36500)
    )
    retention_metrics_days: int = field(
        default=90, metadata=_meta("days metric samples are kept", minimum=1, maximum=36500)
    )
    retention_logs_days: int = field(
        default=90, metadata=_meta("days rotated log files are kept", minimum=1, maximum=36500)
    )
    retention_compress_after_days: int = field(
        default=7, metadata=_meta("days before a rotated log is compressed", minimum=0, maximum=36500)
    )
    retention_metrics_raw_days: int = field(
        default=7, metadata=_meta("days metric samples stay at full resolution, then hourly", minimum=1, maximum=36500)
    )
    # [health]
    health_disk_warn_percent: float = field(
        default=80.0, metadata=_meta("disk percent used that warns", minimum=1, maximum=100)
    )
    health_disk_critical_percent: float = field(
        default=90.0, metadata=_meta("disk percent used that fails (critical)", minimum=1, maximum=100)
    )
    health_memory_warn_percent: float = field(
        default=90.0, metadata=_meta("memory percent used that warns", minimum=1, maximum=100)
    )
    health_runner_down_after: float = field(
        default=120.0,
        metadata=_meta("seconds without a runner heartbeat before runner down", minimum=10, maximum=86400),
    )
    health_log_dir_max_mb: int = field(
        default=1024, metadata=_meta("log directory size that warns (MiB)", minimum=1, maximum=10**7)
    )
    health_load_warn_per_cpu: float = field(
        default=2.0, metadata=_meta("1-minute load per CPU that warns", minimum=0.1, maximum=1000)
    )
    health_hung_margin: float = field(
        default=60.0, metadata=_meta("seconds past timeout + kill grace before a run is hung", minimum=0, maximum=86400)
    )
    health_stale_scheduled_after: float = field(
        default=3600.0, metadata=_meta("seconds a queued run waits with no runner", minimum=60, maximum=30 * 86400)
    )
    health_db_growth_warn_mb: float = field(
        default=100.0, metadata=_meta("database growth per day that warns (MiB)", minimum=0.1, maximum=10**7)
    )
    # [backup]
    backup_dir: str = field(default="", metadata=_meta("where backups go (default: <data>/backups)"))
    backup_keep: int = field(default=7, metadata=_meta("backups kept", minimum=1, maximum=1000))

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_timezone(self) -> str:
        """The dashboard's one zone for times: ``web.display_timezone``, else the installation's."""
        return self.web_display_timezone or self.timezone

    def env_name(self, attribute: str) -> str:
        return env_name(attribute)


def env_name(attribute: str) -> str:
    return "SMARTCRON_" + attribute.upper()


def file_key(attribute: str) -> str:
    for section in SECTIONS:
        if attribute.startswith(section + "_"):
            return f"{section}.{attribute[len(section) + 1 :]}"
    return attribute


_FIELDS = {f.name: f for f in fields(Settings)}
_DERIVED = {"home", "config_file"}


def default_paths(env: Mapping[str, str], euid: int) -> dict[str, str]:
    """Where things go: everything under SMARTCRON_HOME, else FHS for root, else XDG."""
    home = env.get("SMARTCRON_HOME")
    if home:
        base = Path(home).expanduser().absolute()
        return {
            "config_file": str(base / CONFIG_FILE_NAME),
            "data_dir": str(base / "data"),
            "log_dir": str(base / "logs"),
            "run_dir": str(base / "run"),
        }
    if euid == 0:
        return {
            "config_file": f"/etc/smartcron/{CONFIG_FILE_NAME}",
            "data_dir": "/var/lib/smartcron",
            "log_dir": "/var/log/smart-cron",
            "run_dir": "/run/smartcron",
        }
    user_home = Path(env.get("HOME", "~")).expanduser()
    config = Path(env.get("XDG_CONFIG_HOME") or user_home / ".config") / "smartcron"
    data = Path(env.get("XDG_DATA_HOME") or user_home / ".local/share") / "smartcron"
    state = Path(env.get("XDG_STATE_HOME") or user_home / ".local/state") / "smartcron"
    runtime = env.get("XDG_RUNTIME_DIR")
    return {
        "config_file": str(config / CONFIG_FILE_NAME),
        "data_dir": str(data),
        "log_dir": str(state / "logs"),
        "run_dir": str(Path(runtime) / "smartcron" if runtime else state / "run"),
    }


def _convert(attribute: str, raw: Any, origin: str) -> Any:
    f = _FIELDS[attribute]
    kind = f.type if isinstance(f.type, str) else str(f.type)
    meta = f.metadata

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"setting {origin}: expected {expected}, got {raw!r}")

    value: Any
    if kind.startswith("tuple"):
        if isinstance(raw, str):
            value = tuple(p.strip() for p in raw.split(",") if p.strip())
        elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            value = tuple(raw)
        else:
            raise fail("a list of strings (or a comma-separated string)")
        return value
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise fail("true or false")
    if kind in ("int", "float"):
        if isinstance(raw, bool):
            raise fail("a number")
        try:
            value = int(raw) if kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise fail("an integer" if kind == "int" else "a number") from None
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise fail(f"a value from {lo:g} to {hi:g}")
        return value
    if not isinstance(raw, str):
        raise fail("a string")
    if "\x00" in raw:
        raise fail("a string without NUL bytes")
    return raw


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table")
            for sub, subvalue in value.items():
                attribute = f"{key}_{sub}"
                if attribute not in _FIELDS or attribute in _DERIVED:
                    raise ConfigError(f"{path}: unknown setting {key}.{sub}")
                flat[attribute] = subvalue
        elif key in _FIELDS and key not in _DERIVED and file_key(key) == key:
            flat[key] = value
        else:
            raise ConfigError(f"{path}: unknown setting {key}")
    return flat


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    euid: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, the config file, the environment and ``overrides``."""
    env = os.environ if env is None else env
    euid = os.geteuid() if euid is None else euid
    paths = default_paths(env, euid)
    chosen = config_file or env.get("SMARTCRON_CONFIG") or paths["config_file"]
    path = Path(chosen).expanduser()
    if config_file and not path.exists():
        raise ConfigError(f"config file {path} does not exist")

    values: dict[str, Any] = {}
    for attribute, raw in _read_file(path).items():
        values[attribute] = _convert(attribute, raw, f"{file_key(attribute)} in {path}")
    for attribute in _FIELDS:
        if attribute in _DERIVED:
            continue
        name = env_name(attribute)
        if name in env:
            values[attribute] = _convert(attribute, env[name], name)
    for attribute, raw in (overrides or {}).items():
        if attribute not in _FIELDS:
            raise ConfigError(f"unknown setting {attribute}")
        values[attribute] = _convert(attribute, raw, attribute)

    for key in ("data_dir", "log_dir", "run_dir"):
        values[key] = str(Path(values.get(key) or paths[key]).expanduser())
    if not values.get("node"):
        values["node"] = socket.gethostname()
    if not values.get("database_url"):
        values["database_url"] = "sqlite:///" + str(Path(values["data_dir"]) / "smartcron.db")
    if not values.get("backup_dir"):
        values["backup_dir"] = str(Path(values["data_dir"]) / "backups")
    _validate(values)
    return Settings(home=env.get("SMARTCRON_HOME") or None, config_file=str(path), **values)


_TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")  # as a task's ``nodes`` entries


_CHECKS: tuple[tuple[str, Callable[[dict[str, Any]], str | None]], ...] = (
    (
        "node_tags",
        lambda v: next(
            (
                f"{tag!r} is not a tag (letters, digits, '_', '.', ':', '@', '-')"
                for tag in v["node_tags"]
                if not _TAG_PATTERN.match(tag)
            ),
            None,
        ),
    ),
    (
        "failpoint",
        lambda v: next((f"unknown failpoint {name!r}" for name in v["failpoint"] if name not in _failpoints()), None),
    ),
    ("timezone", lambda v: None if _zone_ok(v["timezone"]) else f"unknown time zone {v['timezone']!r}"),
    (
        "web_display_timezone",
        lambda v: (
            None
            if not v["web_display_timezone"] or _zone_ok(v["web_display_timezone"])
            else f"unknown time zone {v['web_display_timezone']!r}"
        ),
    ),
    (
        "database_url",
        lambda v: (
            None
            if str(v["database_url"]).split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mariadb")
            else "expected sqlite:///PATH, postgresql+psycopg://... or mysql+pymysql://..."
        ),
    ),
    (
        "runner_lease_seconds",
        lambda v: (
            None
            if v["runner_lease_seconds"] >= 2 * v["runner_heartbeat_interval"]
            else f"must be at least two heartbeats (runner.heartbeat_interval is {v['runner_heartbeat_interval']:g} s, "
            f"so {2 * v['runner_heartbeat_interval']:g} s or more): a lease that can run out between two "
            "renewals lets another node take over a healthy node's runs"
        ),
    ),
    (
        "health_disk_critical_percent",
        lambda v: (
            None
            if v["health_disk_critical_percent"] >= v["health_disk_warn_percent"]
            else "must not be below health.disk_warn_percent"
        ),
    ),
)


def _failpoints() -> frozenset[str]:
    from smartcron.failpoints import PLACES

    return PLACES


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _validate(values: dict[str, Any]) -> None:
    merged = {name: f.default for name, f in _FIELDS.items()} | values
    for attribute, check in _CHECKS:
        problem = check(merged)
        if problem:
            raise ConfigError(f"setting {file_key(attribute)} ({env_name(attribute)}): {problem}")
