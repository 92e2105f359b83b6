"""``smartcron tick`` as cron runs it: real subprocesses, one pass, supervised to the end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from smartcron.clock import system_clock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.runner.tick import run_tick
from smartcron.store import Store
from tests.runner.runner_support import (
    CHILD_ENV,
    add_task,
    failed_and_left,
    home_store,
    runs_of,
    settings_for,
    smartcron,
    smartcron_env,
    wait_until,
)

TICK_WAIT = 120.0  # a bound only a hang reaches


def test_tick_runs_the_due_tasks_records_them_and_exits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, store = home_store(home)
    now = datetime.now(UTC)
    # A yearly schedule: only the slot set here is due, even when the minute turns before the
    # tick claims (every minute, a tick started late also claimed the next slot and a missed row).
    yearly = "0 0 1 1 *"
    ok = add_task(store, "ok", ("echo", "done"), next_run_at=now, schedule=yearly)
    failing = add_task(store, "failing", ("sh", "-c", "exit 2"), next_run_at=now, retries=0, schedule=yearly)
    later = add_task(store, "later", ("true",), next_run_at=now.replace(year=now.year + 1))
    tick = smartcron("tick", "--json", env=smartcron_env(home), cwd=tmp_path)
    assert tick.wait(timeout=TICK_WAIT) == 0
    report = json.loads((tmp_path / "smartcron.out").read_text())
    assert report == {"due": 2, "claimed": 2, "started": 2, "recovered": 0}
    assert [r.status for r in runs_of(store, ok)] == [ExecutionStatus.SUCCESS]
    assert [(r.status, r.exit_code) for r in runs_of(store, failing)] == [(ExecutionStatus.FAILED, 2)]
    assert runs_of(store, later) == []
    beat = store.nodes.latest("tick")
    assert beat is not None and beat.info is not None
    assert {key: beat.info[key] for key in ("active", "running", "tags")} == {"active": False, "running": 0, "tags": []}


def test_a_tick_stays_until_its_long_run_ends_and_the_next_tick_skips_the_overlapping_slot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, store = home_store(home)
    release = tmp_path / "release"
    wait_for_release = f"while [ ! -e {release} ]; do sleep 0.05; done"
    # A yearly schedule: only the slots this test sets are due, whenever the minute turns.
    task = add_task(store, "long", ("sh", "-c", wait_for_release), next_run_at=datetime.now(UTC), schedule="0 0 1 1 *")
    env = smartcron_env(home)
    first = smartcron("tick", env=env, cwd=tmp_path, output="first.out")
    try:
        wait_until(lambda: [r.status for r in runs_of(store, task)] == [ExecutionStatus.RUNNING], "the run started")
        store.tasks.set_next_run(task.id, datetime.now(UTC))
        second = smartcron("tick", env=env, cwd=tmp_path, output="second.out")
        assert second.wait(timeout=TICK_WAIT) == 0
        assert first.poll() is None, "the first tick waits for its run"
        release.touch()
        assert first.wait(timeout=TICK_WAIT) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert [(r.status, r.reason) for r in runs_of(store, task)] == [
        (ExecutionStatus.SUCCESS, None),
        (ExecutionStatus.SKIPPED, "overlap"),
    ]


@pytest.mark.slow
@pytest.mark.timeout(600)  # 50 interpreters starting at once on a busy CI machine
def test_fifty_concurrent_ticks_on_one_due_slot_run_it_exactly_once(store: Store, tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = store.engine.url.render_as_string(hide_password=False)
    counter = tmp_path / "counter"
    command = ("sh", "-c", f"echo ran >> {counter}")
    task = add_task(store, "once", command, next_run_at=datetime.now(UTC), schedule="0 0 1 1 *")
    env = smartcron_env(home, database_url=url)
    ticks = [smartcron("tick", env=env, cwd=tmp_path, output=f"tick{i}.out") for i in range(50)]
    codes = [tick.wait(timeout=TICK_WAIT * 3) for tick in ticks]
    outputs = [(tmp_path / f"tick{i}.out").read_text() for i in range(50)]
    assert codes == [0] * 50, [o for o in outputs if o]
    assert counter.read_text() == "ran\n"
    assert [r.status for r in runs_of(store, task)] == [ExecutionStatus.SUCCESS]


def deadlock_victim(store: Store) -> Exception:
    """The error this store's database raises at the transaction it rolled back to break a deadlock."""
    dialect = store.engine.dialect.name
    if dialect == "mysql":
        import pymysql

        return pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
    if dialect == "postgresql":
        import psycopg

        return psycopg.errors.DeadlockDetected("deadlock detected")
    pytest.skip("SQLite has one writer: no transaction is ever a deadlock victim")


def test_a_tick_carries_on_when_any_transaction_of_its_opening_pass_is_chosen_as_a_deadlock_victim(
    store: Store, tmp_path: Path
) -> None:
    """Fifty ticks starting in the same second contend for the same rows; the database then
    rolls one transaction back to break a deadlock. Here each locking statement the tick's
    main thread sends is refused that way the first time it is sent."""
    victim = deadlock_victim(store)
    task = add_task(store, "once", ("true",), next_run_at=datetime.now(UTC), schedule="0 0 1 1 *")
    refused: list[str] = []

    def each_lock_loses_once(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        words = statement.upper().split()
        locking = words[0] in {"INSERT", "UPDATE", "DELETE"} or "FOR UPDATE" in statement.upper()
        if locking and threading.current_thread() is threading.main_thread() and statement not in refused:
            refused.append(statement)
            raise victim

    event.listen(store.engine, "before_cursor_execute", each_lock_loses_once)
    try:
        report = run_tick(
            settings_for(store, tmp_path / "home"), store, clock=system_clock(), base_env=CHILD_ENV, cwd=str(tmp_path)
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", each_lock_loses_once)
    assert any("SMART_CRON_EXECUTIONS" in s.upper() and s.upper().startswith("INSERT") for s in refused), refused
    assert (report.due, report.claimed, report.started) == (1, 1, 1)
    assert [(r.status, r.trigger) for r in runs_of(store, task)] == [(ExecutionStatus.SUCCESS, Trigger.SCHEDULE)]


def test_sigterm_to_a_tick_kills_its_runs_after_the_grace_records_them_and_exits_zero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, store = home_store(home)
    task = add_task(store, "endless", ("sleep", "300"), next_run_at=datetime.now(UTC), schedule="0 0 1 1 *")
    ticking = smartcron("tick", env=smartcron_env(home, runner_shutdown_grace="1"), cwd=tmp_path)
    try:
        wait_until(lambda: [r.status for r in runs_of(store, task)] == [ExecutionStatus.RUNNING], "the run started")
        ticking.send_signal(signal.SIGTERM)
        assert ticking.wait(timeout=TICK_WAIT) == 0
    finally:
        if ticking.poll() is None:
            ticking.kill()
    assert [(r.status, r.reason) for r in runs_of(store, task)] == [(ExecutionStatus.KILLED, "shutdown")]


def test_a_tick_under_a_low_open_file_limit_runs_every_due_task_a_share_at_a_time(tmp_path: Path) -> None:
    # 300 descriptors leave room for (300 - 256) // 3 = 14 runs at once; 30 tasks are due.
    home = tmp_path / "home"
    _, store = home_store(home)
    now = datetime.now(UTC)
    tasks = [add_task(store, f"t{i:02d}", ("sleep", "0.2"), next_run_at=now) for i in range(30)]
    env = smartcron_env(home)
    command = ["prlimit", "--nofile=300:300", "--", sys.executable, "-m", "smartcron", "tick", "--json"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=TICK_WAIT, check=False)

    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"due": 30, "claimed": 30, "started": 30, "recovered": 0}
    assert all([r.status for r in runs_of(store, task)] == [ExecutionStatus.SUCCESS] for task in tasks)
    assert "the open-file limit (ulimit -n 300) allows 14 runs at once" in (home / "logs" / "master.log").read_text()


def test_a_tick_runs_a_retry_that_a_killed_runner_owed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, store = home_store(home)
    now = datetime.now(UTC)
    task = add_task(
        store, "flaky", ("true",), next_run_at=now + timedelta(hours=1), created=now - timedelta(hours=1), retries=1,
        retry_delay=30,
    )  # fmt: skip
    failed_and_left(store, task, at=now - timedelta(minutes=10))
    tick = smartcron("tick", "--json", env=smartcron_env(home), cwd=tmp_path)
    assert tick.wait(timeout=TICK_WAIT) == 0
    report = json.loads((tmp_path / "smartcron.out").read_text())
    assert report == {"due": 0, "claimed": 1, "started": 1, "recovered": 0}
    assert [(r.attempt, r.trigger, r.status) for r in runs_of(store, task)] == [
        (0, Trigger.SCHEDULE, ExecutionStatus.FAILED),
        (1, Trigger.RETRY, ExecutionStatus.SUCCESS),
    ]
