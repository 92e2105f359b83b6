"""Manual runs: queued for a live runner, or run in-process when none is alive."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.clock import SystemClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.errors import NotFoundError
from smartcron.runner import manual
from smartcron.runner.daemon import Daemon
from smartcron.runner.manual import trigger
from smartcron.store import Store
from tests.runner.runner_support import CHILD_ENV, SETTLE_SECONDS, add_task, settings_for, wait_until

LATER = timedelta(days=1)


def test_with_no_runner_alive_the_run_happens_in_process_and_the_final_row_is_returned(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    add_task(store, "report", ("sh", "-c", "echo made; exit 0"), next_run_at=clock.now() + LATER)
    run = trigger(settings, store, "report", wait=True, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert (run.status, run.trigger, run.output, run.task_name) == (
        ExecutionStatus.SUCCESS, Trigger.MANUAL, "made\n", "report",
    )  # fmt: skip


def test_a_failed_manual_run_is_returned_failed_and_not_retried(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    task = add_task(sqlite_store, "broken", ("sh", "-c", "exit 5"), next_run_at=SystemClock().now() + LATER)
    run = trigger(settings, sqlite_store, "broken", wait=False, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert (run.status, run.exit_code) == (ExecutionStatus.FAILED, 5)
    assert sqlite_store.executions.count(task_id=task.id) == 1
    [alert] = sqlite_store.alerts.list(task_id=task.id, active_only=True)
    assert alert.kind == "task_failed"


def test_with_a_runner_alive_the_run_is_only_queued_for_it(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = SystemClock()
    add_task(sqlite_store, "queued", ("true",), next_run_at=clock.now() + LATER)
    sqlite_store.nodes.beat("node-b", "runner", now=clock.now(), info={"active": True, "running": 0})
    run = trigger(settings, sqlite_store, "queued", wait=False, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert (run.status, run.trigger, run.started_at) == (ExecutionStatus.SCHEDULED, Trigger.MANUAL, None)


@pytest.mark.parametrize(
    ("age", "info"),
    [(timedelta(minutes=5), {"active": True}), (timedelta(0), {"active": False})],
    ids=["stale-heartbeat", "runner-said-it-stopped"],
)
def test_a_runner_that_is_not_alive_does_not_count(
    sqlite_store: Store, tmp_path: Path, age: timedelta, info: dict[str, bool]
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = SystemClock()
    add_task(sqlite_store, "here", ("true",), next_run_at=clock.now() + LATER)
    sqlite_store.nodes.beat("node-a", "runner", now=clock.now() - age, info=info)
    run = trigger(settings, sqlite_store, "here", wait=False, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert run.status is ExecutionStatus.SUCCESS


def test_a_runner_on_a_node_the_task_may_not_use_does_not_count(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home", node="node-a")
    clock = SystemClock()
    add_task(sqlite_store, "pinned", ("true",), next_run_at=clock.now() + LATER, nodes=("node-a",))
    sqlite_store.nodes.beat("node-b", "runner", now=clock.now(), info={"active": True})
    run = trigger(settings, sqlite_store, "pinned", wait=True, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert run.status is ExecutionStatus.SUCCESS


def test_a_live_runner_counts_for_a_task_pinned_to_one_of_its_tags(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home", node="node-a")
    clock = SystemClock()
    add_task(sqlite_store, "on_gpu", ("true",), next_run_at=clock.now() + LATER, nodes=("gpu",))
    sqlite_store.nodes.beat("node-b", "runner", now=clock.now(), info={"active": True, "tags": ["gpu"]})
    run = trigger(settings, sqlite_store, "on_gpu", wait=False, base_env=CHILD_ENV, cwd=str(tmp_path))
    assert run.status is ExecutionStatus.SCHEDULED, "queued for node-b, which carries the tag"


def test_waiting_on_a_live_daemon_returns_the_row_it_finished(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = SystemClock()
    add_task(sqlite_store, "via_daemon", ("echo", "daemon ran me"), next_run_at=clock.now() + LATER)
    daemon = Daemon(settings, sqlite_store, clock=clock, base_env=CHILD_ENV, cwd=str(tmp_path), background=False)
    thread = threading.Thread(target=daemon.run)
    thread.start()

    def not_here(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the run must be left to the daemon")

    monkeypatch.setattr(manual, "run_here", not_here)
    try:
        wait_until(lambda: sqlite_store.nodes.get("node-a", "runner") is not None, "the daemon's heartbeat")
        run = trigger(settings, sqlite_store, "via_daemon", wait=True)
    finally:
        daemon.request_stop()
        thread.join(SETTLE_SECONDS)
    assert (run.status, run.output) == (ExecutionStatus.SUCCESS, "daemon ran me\n")


def test_an_unknown_task_is_a_clear_error_and_queues_nothing(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    with pytest.raises(NotFoundError, match="no task named 'ghost'"):
        trigger(settings, sqlite_store, "ghost", wait=True)
    assert sqlite_store.executions.count() == 0
