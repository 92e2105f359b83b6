"""``smartcron health`` as its crontab line runs it: a real process, its exit status and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from smartcron.clock import utcnow
from smartcron.config import Settings
from smartcron.domain.task import TaskSpec
from smartcron.services.setup import initialise
from smartcron.store import open_store
from tests.alerts.conftest import SmtpServer, smtp  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]


def smartcron(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcron", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        cwd=REPO,
        timeout=120,
        check=False,
    )


def checks(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    parsed = json.loads(done.stdout)
    assert all(set(item) == {"name", "status", "value", "message"} for item in parsed)
    return {item["name"]: item for item in parsed}


def beat(settings: Settings) -> None:
    store = open_store(settings)
    try:
        store.nodes.beat("box", "tick", now=utcnow())
    finally:
        store.close()


def test_health_exits_1_while_no_runner_reports_and_0_once_one_does(settings: Settings) -> None:
    initialise(settings)

    down = smartcron("health", "--json")
    assert down.returncode == 1, down.stderr
    assert checks(down)["runner_heartbeat"]["status"] == "fail"

    beat(settings)
    up = smartcron("health", "--json")
    assert up.returncode == 0, up.stderr
    found = checks(up)
    assert found["runner_heartbeat"]["status"] == "ok"
    assert {"database", "disk_data", "disk_logs", "memory", "cpu", "log_dir_size", "dead_tasks", "hung_tasks"} <= set(
        found
    )
    assert "success_rate" in found and "health_every_5_minutes" in found
    assert (Path(settings.log_dir) / "health.log").read_text().count("health run: worst") == 2


def test_health_prints_warnings_as_a_table_and_still_exits_0(settings: Settings) -> None:
    initialise(settings)
    beat(settings)
    store = open_store(settings)
    try:
        spec = TaskSpec(name="switched_off", command=("true",), schedule="* * * * *", enabled=False)
        store.tasks.add(spec, now=utcnow(), next_run_at=None)
    finally:
        store.close()

    done = smartcron("health")

    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "tasks_enabled" in line]
    assert line.startswith("WARN") and "disabled: switched_off" in line
    assert done.stdout.rstrip().endswith("worst: warn")


def test_an_unreachable_database_is_reported_in_one_line_per_check(settings: Settings) -> None:
    done = smartcron("health", "--json", SMARTCRON_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")

    assert done.returncode == 1
    assert checks(done)["database"]["status"] == "fail"
    assert "Traceback" not in done.stderr


def test_health_sends_the_runner_down_alert_before_it_exits(settings: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    initialise(settings)
    mail = {
        "SMARTCRON_SMTP_HOST": "127.0.0.1",
        "SMARTCRON_SMTP_PORT": str(smtp.port),
        "SMARTCRON_ALERT_EMAIL_TO": "ops@example.com",
    }

    done = smartcron("health", **mail)

    assert done.returncode == 1
    [message] = smtp.received
    assert "CRITICAL" in message.subject and message.recipients == ["ops@example.com"]
    assert "runner" in message.body
