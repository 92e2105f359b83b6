"""What a run's row says when its process times out or floods its output (real processes, real clock)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from smartcron.clock import SystemClock
from smartcron.domain.enums import ErrorCategory, ExecutionStatus
from smartcron.logs import task_log_path
from smartcron.runner.process.procinfo import live_group_members
from smartcron.store import Store
from tests.runner.runner_support import add_task, running_engine, runs_of, settings_for, settle


@pytest.mark.parametrize(
    ("command", "expected_output"),
    [
        ("sleep 600 & echo hi; wait", "hi\n"),
        ('trap "" TERM; echo start; sleep 600', "start\n"),
    ],
    ids=["grandchild-holds-the-pipe", "traps-term"],
)
def test_a_run_past_its_timeout_is_recorded_timeout_and_its_whole_group_is_gone(
    store: Store, tmp_path: Path, command: str, expected_output: str
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = SystemClock()
    task = add_task(store, "stuck", (command,), shell=True, next_run_at=clock.now(), timeout=1, kill_grace=1, retries=0)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        [started] = runs_of(store, task)
        pgid = store.executions.get(started.id).pgid
        settle(engine)
    [run] = runs_of(store, task)
    assert (run.status, run.error_category, run.reason) == (
        ExecutionStatus.TIMEOUT, ErrorCategory.RECOVERABLE, "timeout",
    )  # fmt: skip
    assert run.output == expected_output
    assert pgid is not None and live_group_members(pgid) == []


FLOOD_BOUND = 600.0  # a gigabyte through a pipe on a machine busy with other tests: only a hang reaches it


@pytest.mark.slow
@pytest.mark.timeout(FLOOD_BOUND + 60)
def test_an_output_flood_is_capped_in_row_and_log_and_the_runner_stays_small(
    sqlite_store: Store, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home", runner_output_preview_kb=4)
    clock = SystemClock()
    task = add_task(
        sqlite_store, "flood", ("yes | head -c 1G",), shell=True, next_run_at=clock.now(), max_output_kb=1024
    )
    warm_up = add_task(sqlite_store, "warm_up", ("echo", "warm"), next_run_at=clock.now())
    me = psutil.Process()
    with running_engine(settings, sqlite_store, clock) as engine:
        # A first run loads what any run needs (imports, caches): not what the flood costs.
        sqlite_store.tasks.set_next_run(task.id, None)
        engine.run_pass(clock.now())
        settle(engine)
        before = me.memory_info().rss
        sqlite_store.tasks.set_next_run(task.id, clock.now())
        engine.run_pass(clock.now())
        settle(engine, FLOOD_BOUND)
        grown = me.memory_info().rss - before
    assert [r.output for r in runs_of(sqlite_store, warm_up)] == ["warm\n"]
    [run] = runs_of(sqlite_store, task)
    assert (run.status, run.truncated, run.output_bytes) == (ExecutionStatus.SUCCESS, True, 1024**3)
    assert run.output is not None and len(run.output.encode()) <= 4 * 1024 and run.output.endswith("y\n")
    log_size = task_log_path(settings.log_dir, "default", "flood").stat().st_size
    assert 1024 * 1024 <= log_size <= 1024 * 1024 + 1024
    assert grown < 50 * 1024 * 1024
