"""``smartcron run``: waking at each slot (seconds too), manual runs, heartbeat, stopping on a signal."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smartcron.clock import FakeClock, SystemClock
from smartcron.domain.enums import ExecutionStatus, OverlapPolicy, Trigger
from smartcron.runner.daemon import Daemon
from smartcron.runner.process.procinfo import live_group_members
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import (
    CHILD_ENV,
    SETTLE_SECONDS,
    add_task,
    home_store,
    runs_of,
    settings_for,
    smartcron,
    smartcron_env,
    wait_until,
)


def test_daemon_wakes_at_every_slot_of_a_six_field_schedule(sqlite_store: Store, tmp_path: Path) -> None:
    # The clock only moves when the daemon sleeps, so each wake-up lands exactly on a slot. Fake
    # seconds pass faster than real processes end, so runs may overlap here (allow).
    settings = settings_for(sqlite_store, tmp_path / "home")
    start = utc(2026, 3, 1, 10)
    clock = FakeClock(start)
    task = add_task(
        sqlite_store, "every_two_seconds", ("true",), next_run_at=start, schedule="*/2 * * * * *",
        overlap=OverlapPolicy.ALLOW,
    )  # fmt: skip
    daemon = Daemon(settings, sqlite_store, clock=clock, base_env=CHILD_ENV, cwd=str(tmp_path), background=False)
    daemon.run(until=start + timedelta(seconds=9))
    runs = runs_of(sqlite_store, task)
    assert [(r.scheduled_for.second, r.status, r.trigger) for r in runs] == [
        (second, ExecutionStatus.SUCCESS, Trigger.SCHEDULE) for second in (0, 2, 4, 6, 8)
    ]
    assert all(r.started_at == r.scheduled_for for r in runs), "each run starts at its slot, not a second late"
    beat = sqlite_store.nodes.get("node-a", "runner")
    assert beat is not None and beat.info is not None
    assert {key: beat.info[key] for key in ("active", "state", "running", "tags")} == {
        "active": False,
        "state": "stopped",
        "running": 0,
        "tags": [],
    }


def test_daemon_starts_a_queued_manual_run_without_waiting_for_a_slot(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    task = add_task(store, "by_hand", ("echo", "hello"), next_run_at=clock.now() + timedelta(days=1))
    daemon = Daemon(settings, store, clock=clock, base_env=CHILD_ENV, cwd=str(tmp_path), background=False)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_until(lambda: store.nodes.get("node-a", "runner") is not None, "the daemon's first heartbeat")
        queued = store.executions.enqueue(task.id, scheduled_for=clock.now())
        wait_until(lambda: store.executions.get(queued).status.is_final, "the manual run to finish")
    finally:
        daemon.request_stop()
        thread.join(SETTLE_SECONDS)
    assert not thread.is_alive()
    run = store.executions.get(queued)
    assert (run.status, run.trigger, run.output) == (ExecutionStatus.SUCCESS, Trigger.MANUAL, "hello\n")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_claiming_kills_what_outlives_the_grace_records_everything_and_exits_zero(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    home = tmp_path / "home"
    _, store = home_store(home)
    now = datetime.now(UTC)
    quick_file = tmp_path / "quick-done"
    slow = add_task(store, "slow", ("sh", "-c", "sleep 300 & sleep 300"), next_run_at=now, schedule="0 0 1 1 *")
    quick = add_task(
        store, "quick", ("sh", "-c", f"sleep 0.5; touch {quick_file}"), next_run_at=now, schedule="0 0 1 1 *"
    )
    env = smartcron_env(home, runner_shutdown_grace="2")
    runner = smartcron("run", "-q", env=env, cwd=tmp_path)

    def both_started() -> bool:
        # One read per task, each looked at once: a row read twice may have changed in between.
        slow_rows, quick_rows = runs_of(store, slow), runs_of(store, quick)
        quick_started = len(quick_rows) == 1 and (quick_rows[0].pgid is not None or quick_rows[0].status.is_final)
        return len(slow_rows) == 1 and slow_rows[0].pgid is not None and quick_started

    try:
        wait_until(both_started, "both tasks running")
        [slow_run] = runs_of(store, slow)
        pgid = slow_run.pgid
        runner.send_signal(stop_signal)
        assert runner.wait(timeout=SETTLE_SECONDS) == 0, (tmp_path / "smartcron.out").read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
    assert [(r.status, r.reason) for r in runs_of(store, slow)] == [(ExecutionStatus.KILLED, "shutdown")]
    assert [r.status for r in runs_of(store, quick)] == [ExecutionStatus.SUCCESS] and quick_file.exists()
    assert pgid is not None and live_group_members(pgid) == []
    beat = store.nodes.latest("runner")
    assert beat is not None and beat.info is not None
    assert {key: beat.info[key] for key in ("active", "state", "running", "tags")} == {
        "active": False,
        "state": "stopped",
        "running": 0,
        "tags": [],
    }


def test_a_task_this_daemon_cannot_plan_neither_makes_it_spin_nor_delays_other_slots(
    sqlite_store: Store, tmp_path: Path
) -> None:
    # node-b's task stays due (node-b is down) and keeps the store's earliest next_run_at in the past.
    settings = settings_for(sqlite_store, tmp_path / "home")
    start = utc(2026, 3, 1, 10)
    clock = FakeClock(start + timedelta(milliseconds=300))  # one-second polls would miss the slots
    add_task(sqlite_store, "elsewhere", ("true",), next_run_at=start - timedelta(hours=1), nodes=("node-b",))
    here = add_task(
        sqlite_store, "here", ("true",), next_run_at=start + timedelta(seconds=5), schedule="*/5 * * * * *",
        overlap=OverlapPolicy.ALLOW,
    )  # fmt: skip
    daemon = Daemon(settings, sqlite_store, clock=clock, base_env=CHILD_ENV, cwd=str(tmp_path), background=False)
    passes = 0
    run_pass = daemon.engine.run_pass

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal passes
        passes += 1
        return run_pass(*args, **kwargs)

    daemon.engine.run_pass = counted  # type: ignore[method-assign]
    daemon.run(until=start + timedelta(seconds=16))
    runs = runs_of(sqlite_store, here)
    assert [(r.scheduled_for.second, r.started_at == r.scheduled_for) for r in runs] == [
        (5, True),
        (10, True),
        (15, True),
    ]
    assert passes < 40, "the loop sleeps between passes"


def test_daemon_runs_the_health_monitor_soon_after_it_starts(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smartcron.runner.chores as chores_module

    monkeypatch.setattr(chores_module, "HEALTH_FIRST_AFTER", 0.05)
    settings = settings_for(sqlite_store, tmp_path / "home")
    daemon = Daemon(settings, sqlite_store, clock=SystemClock(), base_env=CHILD_ENV, cwd=str(tmp_path))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_until(lambda: sqlite_store.health.latest() != [], "the daemon's first health run")
    finally:
        daemon.request_stop()
        thread.join(SETTLE_SECONDS)
    assert not thread.is_alive()
    assert {"database", "runner_heartbeat"} <= {check.name for check in sqlite_store.health.latest()}


def test_a_bug_in_the_loop_is_logged_before_the_shutdown_that_follows_and_raised(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    daemon = Daemon(
        settings, sqlite_store, clock=FakeClock(utc(2026, 3, 1, 10)), base_env=CHILD_ENV, cwd=str(tmp_path),
        background=False,
    )  # fmt: skip
    logged_before_shutdown: list[bool] = []
    shutdown = daemon._shutdown

    def watched_shutdown() -> None:
        logged_before_shutdown.append(any("loop failed" in r.getMessage() for r in caplog.records))
        shutdown()

    def broken(now: datetime) -> datetime | None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(daemon, "_next_slot", broken)
    monkeypatch.setattr(daemon, "_shutdown", watched_shutdown)
    with caplog.at_level("ERROR", logger="smartcron.runner.daemon"), pytest.raises(RuntimeError, match="a bug"):
        daemon.run()

    assert logged_before_shutdown == [True]
    [record] = [r for r in caplog.records if "loop failed" in r.getMessage()]
    assert record.exc_info is not None and "a bug" in str(record.exc_info[1])


class _SteppedBackWhileSleeping(FakeClock):
    """A wall clock stepped back by two hours during the first sleep (the monotonic clock goes on)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.slept = 0.0

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if self.slept == 0.0:
            self.set(self.now() - timedelta(hours=2))
        self.slept += seconds
        return super().sleep(seconds, wake)


@pytest.mark.parametrize("wait", [0.5, 0.0005])
def test_waiting_for_a_slot_ends_on_time_when_the_wall_clock_steps_back_meanwhile(wait: float) -> None:
    from smartcron.runner.daemon import sleep_until

    start = utc(2026, 6, 1, 12, 0)
    clock = _SteppedBackWhileSleeping(start)
    before = clock.monotonic()
    sleep_until(clock, start + timedelta(seconds=wait), at_most=1.0)
    assert clock.monotonic() - before == pytest.approx(wait, abs=1e-3), "the wait it began with, not two hours"


def test_waiting_for_a_slot_is_bounded_when_the_wall_clock_stepped_back_just_before() -> None:
    from smartcron.runner.daemon import sleep_until

    clock = FakeClock(utc(2026, 6, 1, 10, 0))  # the slot was due in 0.5 s at 12:00; then the step
    before = clock.monotonic()
    sleep_until(clock, utc(2026, 6, 1, 12, 0, 0), at_most=0.5)
    assert clock.monotonic() - before == pytest.approx(0.5, abs=1e-3)
