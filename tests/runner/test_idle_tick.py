"""A tick with nothing to do is answered with sqlite3 alone; anything to do goes to the full tick."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from smartcron.config import Settings
from smartcron.domain.enums import Severity, Trigger
from smartcron.runner.idle_tick import tick_if_idle
from smartcron.runner.scheduling.engine import spool_of
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from tests.runner.runner_support import add_task, failed_and_left, home_store

LATER = timedelta(hours=1)


@pytest.fixture
def idle(tmp_path: Path) -> tuple[Settings, Store]:
    settings, store = home_store(tmp_path / "home")
    add_task(store, "hourly", ("true",), next_run_at=datetime.now(UTC) + LATER, schedule="0 * * * *")
    return settings, store


def test_nothing_to_do_writes_the_ticks_heartbeat_and_nothing_else(idle: tuple[Settings, Store]) -> None:
    settings, store = idle
    before = datetime.now(UTC)
    assert tick_if_idle(settings)
    beat = store.nodes.get(settings.node, "tick")
    assert beat is not None and beat.heartbeat_at >= before - timedelta(milliseconds=1)
    assert beat.info is not None and (beat.info["active"], beat.info["state"]) == (False, "stopped")
    assert store.executions.count() == 0


def test_the_idle_answer_imports_neither_sqlalchemy_nor_click(idle: tuple[Settings, Store], tmp_path: Path) -> None:
    check = (
        "import sys; from smartcron.config import load_settings; from smartcron.runner.idle_tick import tick_if_idle;"
        "assert tick_if_idle(load_settings()); print(sorted(m for m in ('sqlalchemy', 'click') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        env={"SMARTCRON_HOME": str(tmp_path / "home"), "SMARTCRON_TIMEZONE": "UTC", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_due_task_a_live_row_or_a_message_owed_go_to_the_full_tick(idle: tuple[Settings, Store]) -> None:
    settings, store = idle
    now = datetime.now(UTC)
    due = add_task(store, "due", ("true",), next_run_at=now - timedelta(seconds=1))
    assert not tick_if_idle(settings)
    store.tasks.set_next_run(due.id, now + LATER)
    assert tick_if_idle(settings)

    [row] = store.executions.claim([SlotClaim(due.id, now, Trigger.SCHEDULE)], node="x", token="t", now=now)
    assert not tick_if_idle(settings), "a live row: its runner may have died"
    store.executions.begin([row.id], node="x", token="t", now=now, lease_until=now)
    assert not tick_if_idle(settings)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM smart_cron_executions"))
    assert tick_if_idle(settings)

    store.alerts.raise_or_repeat("test", task_id=None, severity=Severity.CRITICAL, message="x", now=now,
                                 notify_after=now, details=None, increment=1)  # fmt: skip
    assert not tick_if_idle(settings), "an alert whose message is due"


def test_a_retry_owed_goes_to_the_full_tick_as_the_store_sees_it(idle: tuple[Settings, Store]) -> None:
    settings, store = idle
    now = datetime.now(UTC)
    flaky = add_task(store, "flaky", ("false",), next_run_at=now + LATER, created=now - timedelta(minutes=10))
    failed_and_left(store, flaky, at=now - timedelta(minutes=5))
    assert store.executions.retries_owed(now - timedelta(days=1)), "the store says a retry is owed"
    assert not tick_if_idle(settings)


def test_a_spooled_outcome_a_schema_change_or_another_database_go_to_the_full_tick(
    idle: tuple[Settings, Store],
) -> None:
    settings, store = idle
    spool = spool_of(settings)
    spool.directory.mkdir(parents=True)
    (spool.directory / "7.json").write_text("{}")
    assert not tick_if_idle(settings)
    (spool.directory / "7.json").unlink()
    assert tick_if_idle(settings)

    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert not tick_if_idle(settings)
    server = Settings(**{**{f: getattr(settings, f) for f in settings.__slots__}, "database_url": "postgresql://x/y"})
    assert not tick_if_idle(server)
