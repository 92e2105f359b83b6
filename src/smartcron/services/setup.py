"""First-time set-up: directories, config file, database schema, web secret, built-in tasks."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from smartcron.config import Settings
from smartcron.store import open_store

CONFIG_TEMPLATE = """\
# smartcron configuration. Every setting can also be given as an environment variable:
# SMARTCRON_ plus section and key in capitals, e.g. [smtp] host -> SMARTCRON_SMTP_HOST.

# Time zone of tasks that name none.
timezone = "{timezone}"

# This runner's name (default: the host name) and tags, for tasks pinned with nodes = [...]:
# a task runs on a runner whose name or one of whose tags its nodes list.
# node = "app1"
# node_tags = ["gpu", "bank-vpn"]

[database]
# sqlite:///PATH (default), postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db
# url = "{database_url}"

[smtp]
# host = "smtp.example.com"
# port = 587
# starttls = true
# username = ""
# password = ""

[alert]
# email_from = "smartcron@example.com"
# email_to = ["ops@example.com"]
# urls = []          # apprise URLs: Slack, Teams, ntfy, webhooks

[web]
# host = "127.0.0.1"
# port = 8080
# base_url = "https://cron.example.com"
"""


def secret_key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "web-secret"


def ensure_secret_key(settings: Settings) -> bytes:
    """The key that signs dashboard sessions, made once and kept private."""
    path = secret_key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def initialise(settings: Settings) -> dict[str, Any]:
    for directory in (settings.data_dir, settings.log_dir, settings.run_dir, Path(settings.log_dir) / "tasks"):
        Path(directory).mkdir(parents=True, exist_ok=True)
    config_created = False
    if settings.config_file and not Path(settings.config_file).exists():
        Path(settings.config_file).parent.mkdir(parents=True, exist_ok=True)
        Path(settings.config_file).write_text(
            CONFIG_TEMPLATE.format(timezone=settings.timezone, database_url=settings.database_url)
        )
        config_created = True
    ensure_secret_key(settings)
    store = open_store(settings)
    try:
        store.upgrade()
        added = register_builtin_tasks(settings, store)
    finally:
        store.close()
    return {
        "config_file": settings.config_file,
        "config_created": config_created,
        "database": store.url,
        "data_dir": settings.data_dir,
        "log_dir": settings.log_dir,
        "builtin_added": added,
    }


def register_builtin_tasks(settings: Settings, store: Any) -> list[str]:
    """Register the built-in maintenance tasks that are not registered yet (see maintenance)."""
    try:
        from smartcron.maintenance.builtin import ensure_builtin_tasks
    except ModuleNotFoundError:
        return []
    added: list[str] = ensure_builtin_tasks(settings, store)
    return added
