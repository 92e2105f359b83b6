"""The engine's pass: claim, start, record, retry, with real processes, on every database."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.clock import FakeClock
from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.retry import JITTER
from smartcron.logs import task_log_path
from smartcron.runner.scheduling.alert_hooks import optional_attribute
from smartcron.runner.scheduling.engine import SHUTDOWN_REASON
from smartcron.store import Store
from smartcron.store.executions import Finish
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, runs_of, settings_for, settle

T0 = utc(2026, 3, 1, 10)


def test_due_slot_runs_once_and_is_recorded_with_its_output(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "hello", ("sh", "-c", "echo out; echo err >&2"), next_run_at=T0)
    with running_engine(settings, store, clock) as engine:
        first = engine.run_pass(clock.now())
        settle(engine)
        again = engine.run_pass(clock.now())
    assert (first.claimed, first.started) == (1, 1)
    assert (again.claimed, again.started) == (0, 0)
    [run] = runs_of(store, task)
    assert (run.status, run.trigger, run.attempt, run.exit_code) == (ExecutionStatus.SUCCESS, Trigger.SCHEDULE, 0, 0)
    assert run.scheduled_for == T0 and run.started_at == T0 and run.finished_at is not None
    assert run.output == "out\nerr\n" and run.output_bytes == 8 and not run.truncated
    assert run.error_category is None
    # `sh` is smaller than the spawner: its peak is known only to lie below the spawner's.
    assert run.max_rss_kb is None and run.max_rss_kb_below is not None and run.max_rss_kb_below < 30 * 1024
    after = store.tasks.get("hello")
    assert after.next_run_at == T0 + timedelta(minutes=1)
    assert (after.last_status, after.last_execution_id) == (ExecutionStatus.SUCCESS, run.id)
    log_text = task_log_path(settings.log_dir, "default", "hello").read_text()
    assert log_text == f"=== 2026-03-01T10:00:00+00:00 hello execution {run.id} attempt 0 (schedule) ===\nout\nerr\n"


def test_task_gets_its_environment_working_directory_and_identity(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = 'echo "$SMARTCRON_EXECUTION_ID $SMARTCRON_TASK $SMARTCRON_SCHEDULED_FOR $SMARTCRON_ATTEMPT $GREETING"; pwd'
    task = add_task(
        sqlite_store, "envy", ("sh", "-c", script), next_run_at=T0, env=(("GREETING", "kia ora"),),
        working_dir=str(workdir),
    )  # fmt: skip
    clock = FakeClock(T0)
    with running_engine(settings, sqlite_store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    [run] = runs_of(sqlite_store, task)
    assert run.output == f"{run.id} envy 2026-03-01T10:00:00+00:00 0 kia ora\n{workdir}\n"


def test_task_without_working_dir_runs_where_the_runner_was_started(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    task = add_task(sqlite_store, "where", ("pwd",), next_run_at=T0)
    clock = FakeClock(T0)
    with running_engine(settings, sqlite_store, clock, cwd=str(tmp_path)) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    assert runs_of(sqlite_store, task)[0].output == f"{tmp_path}\n"


def test_recoverable_failure_is_retried_with_growing_delays_each_attempt_its_own_row(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(
        store, "flaky", ("sh", "-c", "exit 3"), next_run_at=T0, schedule="0 * * * *", retries=3, retry_delay=10,
        retry_max_delay=900,
    )  # fmt: skip
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        for _ in range(3):
            retry_at = engine.next_retry_at()
            assert retry_at is not None
            clock.set(retry_at)
            assert engine.run_pass(clock.now()).started == 1
            settle(engine)
        assert engine.next_retry_at() is None
    runs = runs_of(store, task)
    assert [(r.attempt, r.trigger, r.status) for r in runs] == [
        (0, Trigger.SCHEDULE, ExecutionStatus.FAILED),
        (1, Trigger.RETRY, ExecutionStatus.FAILED),
        (2, Trigger.RETRY, ExecutionStatus.FAILED),
        (3, Trigger.RETRY, ExecutionStatus.FAILED),
    ]
    assert {r.scheduled_for for r in runs} == {T0}
    assert [r.retry_of for r in runs] == [None, runs[0].id, runs[0].id, runs[0].id]
    assert all(r.error_category is ErrorCategory.RECOVERABLE and r.exit_code == 3 for r in runs)
    starts = [r.started_at for r in runs]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts) if a and b]
    assert gaps == sorted(gaps) and len(set(gaps)) == 3
    for n, gap in enumerate(gaps):
        assert 10 * 2**n * (1 - JITTER) <= gap <= 10 * 2**n


def test_fatal_failures_are_never_retried(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    missing = add_task(store, "missing", ("no-such-command-anywhere",), next_run_at=T0, retries=3)
    listed = add_task(store, "listed", ("sh", "-c", "exit 4"), next_run_at=T0, retries=3, fatal_exit_codes=(4,))
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        assert engine.next_retry_at() is None
    [not_found] = runs_of(store, missing)
    assert (not_found.status, not_found.exit_code, not_found.error_category) == (
        ExecutionStatus.FAILED, 127, ErrorCategory.FATAL,
    )  # fmt: skip
    assert not_found.reason == "not found: no-such-command-anywhere"
    [fatal] = runs_of(store, listed)
    assert (fatal.exit_code, fatal.error_category) == (4, ErrorCategory.FATAL)


def test_manual_run_queued_by_anyone_is_started_by_the_next_pass(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "manual", ("echo", "by hand"), next_run_at=T0 + timedelta(hours=1))
    queued = store.executions.enqueue(task.id, scheduled_for=T0)
    with running_engine(settings, store, clock) as engine:
        assert engine.run_pass(clock.now()).started == 1
        settle(engine)
    run = store.executions.get(queued)
    assert (run.status, run.trigger, run.output) == (ExecutionStatus.SUCCESS, Trigger.MANUAL, "by hand\n")
    assert store.tasks.get("manual").next_run_at == T0 + timedelta(hours=1)


def test_missed_slots_beyond_the_row_limit_share_one_summary_row(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home", runner_max_missed_rows=3)
    clock = FakeClock(T0 + timedelta(hours=3, seconds=30))
    task = add_task(store, "minutely", ("true",), next_run_at=T0)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    runs = runs_of(store, task)
    # 181 slots from 10:00 to 13:00: 13:00 runs on time, 12:57-12:59 get a row each, 177 share one.
    assert [(r.scheduled_for.strftime("%H:%M"), r.status) for r in runs] == [
        ("10:00", ExecutionStatus.MISSED),
        ("12:57", ExecutionStatus.MISSED),
        ("12:58", ExecutionStatus.MISSED),
        ("12:59", ExecutionStatus.MISSED),
        ("13:00", ExecutionStatus.SUCCESS),
    ]
    assert runs[0].reason == "177 slots missed from 2026-03-01T10:00:00+00:00 to 2026-03-01T12:56:00+00:00"
    assert runs[1].reason is not None and "late by" in runs[1].reason
    assert store.tasks.get("minutely").next_run_at == T0 + timedelta(hours=3, minutes=1)


def test_no_more_runs_start_than_the_parallel_limit(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home", runner_max_parallel=2)
    clock = FakeClock(T0)
    tasks = [add_task(sqlite_store, f"slow{i}", ("sleep", "30"), next_run_at=T0) for i in range(4)]
    with running_engine(settings, sqlite_store, clock) as engine:
        assert engine.run_pass(clock.now()).started == 2
        assert engine.run_pass(clock.now()).started == 0
        assert len(engine.supervisor.running()) == 2
    ended = sorted((runs_of(sqlite_store, t)[0].status, runs_of(sqlite_store, t)[0].reason) for t in tasks)
    # The two that never started are not left for a later runner to start out of time: cancelled.
    assert ended == [(ExecutionStatus.CANCELLED, SHUTDOWN_REASON)] * 2 + [(ExecutionStatus.KILLED, "shutdown")] * 2


def test_queued_rows_of_busy_tasks_do_not_hide_the_rows_behind_them(sqlite_store: Store, tmp_path: Path) -> None:
    # Room for 2 more beside 18 running: a page of waiting rows is the room plus 16, all of them
    # rows of the busy tasks here; the idle task's row behind them still starts.
    settings = settings_for(sqlite_store, tmp_path / "home", runner_max_parallel=20)
    clock = FakeClock(T0)
    busy = [add_task(sqlite_store, f"long{i:02d}", ("sleep", "30"), next_run_at=T0) for i in range(18)]
    idle = add_task(sqlite_store, "idle", ("true",), next_run_at=T0 + timedelta(days=300))
    with running_engine(settings, sqlite_store, clock) as engine:
        assert engine.run_pass(clock.now()).started == 18
        for task in busy:
            sqlite_store.executions.enqueue(task.id, scheduled_for=T0)
        sqlite_store.executions.enqueue(idle.id, scheduled_for=T0 + timedelta(seconds=1))
        assert engine.run_pass(clock.now(), plan=False).started == 1
        [run] = runs_of(sqlite_store, idle)
        assert run.trigger is Trigger.MANUAL and run.status is not ExecutionStatus.SCHEDULED


def test_a_run_whose_row_was_ended_elsewhere_is_killed_and_its_result_not_written(
    sqlite_store: Store, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(sqlite_store, "fenced", ("sleep", "30"), next_run_at=T0)
    with running_engine(settings, sqlite_store, clock) as engine:
        engine.run_pass(clock.now())
        [run] = runs_of(sqlite_store, task)
        other_node = Outcome(ExecutionStatus.ABANDONED, T0, reason="declared dead by node-b")
        assert sqlite_store.executions.finish([Finish(run.id, task.id, other_node)], token=None) == {run.id}
        engine.lease_keeper.renew(clock.now())
        settle(engine)
    after = sqlite_store.executions.get(run.id)
    assert (after.status, after.reason) == (ExecutionStatus.ABANDONED, "declared dead by node-b")
    assert run.pid is not None
    assert not os.path.exists(f"/proc/{run.pid}") or "Z" in Path(f"/proc/{run.pid}/stat").read_text().split()[2]


def test_a_final_failure_raises_an_alert_and_the_next_success_resolves_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "alerting", ("sh", "-c", "exit 1"), next_run_at=T0, retries=0, priority=1)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        [alert] = store.alerts.list(task_id=task.id, active_only=True)
        store.tasks.update(replace(task.spec, command=("true",)), now=T0, next_run_at=T0 + timedelta(minutes=1))
        clock.advance(60)
        engine.run_pass(clock.now())
        settle(engine)
    assert (alert.kind, alert.severity) == ("task_failed", Severity.CRITICAL)
    assert store.alerts.list(task_id=task.id, active_only=True) == []


def test_a_slot_claimed_ahead_of_its_time_starts_only_at_its_time(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = FakeClock(T0 - timedelta(milliseconds=500))
    task = add_task(sqlite_store, "punctual", ("true",), next_run_at=T0)
    busy = add_task(sqlite_store, "busy", ("true",), next_run_at=T0)
    sqlite_store.executions.enqueue(busy.id, scheduled_for=T0 - timedelta(minutes=5))  # a live row
    with running_engine(settings, sqlite_store, clock, role="runner") as daemon_engine:
        assert daemon_engine.prepare(T0).claimed == 1, "a busy task is planned at the slot, not ahead"
        with running_engine(settings, sqlite_store, clock) as a_tick:
            assert a_tick.start_pending(clock.now()) == 1, "only the queued manual run starts early"
        settle(daemon_engine)
        clock.set(T0)
        assert daemon_engine.start_prepared(clock.now()) == 1
        settle(daemon_engine)
    [run] = runs_of(sqlite_store, task)
    assert (run.status, run.started_at, run.scheduled_for) == (ExecutionStatus.SUCCESS, T0, T0)
    assert sqlite_store.tasks.get("busy").next_run_at == T0, "left for the pass at the slot"


def test_optional_parts_that_are_not_installed_are_skipped_but_their_own_import_errors_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_part_for_test.py").write_text("import no_such_dependency_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert optional_attribute("smartcron.no_such_part", "Service") is None
    assert optional_attribute("smartcron.alerts.service", "AlertService") is not None
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_anywhere"):
        optional_attribute("broken_part_for_test", "Service")


def test_a_task_pinned_to_a_tag_runs_only_on_a_runner_with_that_tag(store: Store, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    task = add_task(store, "on_gpu", ("true",), next_run_at=T0, nodes=("gpu",))
    plain = settings_for(store, tmp_path / "plain", node="node-a")
    tagged = settings_for(store, tmp_path / "tagged", node="node-b", node_tags="gpu, linux")
    assert tagged.node_tags == ("gpu", "linux")
    with running_engine(plain, store, clock) as engine:
        assert engine.run_pass(clock.now()).due == 0
    with running_engine(tagged, store, clock) as engine:
        assert engine.run_pass(clock.now()).started == 1
        settle(engine)
    [run] = runs_of(store, task)
    assert (run.node, run.status) == ("node-b", ExecutionStatus.SUCCESS)
