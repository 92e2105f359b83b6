"""``smartcron runs cancel ID``: one line, the row ends cancelled with who asked (also under a real
runner), exit 2 with one clear line for a run that is unknown or has already ended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartcron.clock import FakeClock
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.cli.test_runs_cli import run_main
from tests.runner.runner_support import add_task, running_engine, runs_of, settle

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USER", "alice")
    settings = load_settings()
    initialise(settings)
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


def test_runs_cancel_stops_a_run_a_real_runner_is_running(settings: Settings, store: Store) -> None:
    clock = FakeClock(T0)
    task = add_task(store, "long", ("sleep", "300"), next_run_at=T0, kill_grace=1)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        [run] = runs_of(store, task)
        code, out, err = run_main("runs", "cancel", str(run.id))
        assert (code, err) == (0, "")
        assert out == (
            f"asked the runner on {run.node} to stop run {run.id} of long; "
            "it records the run as cancelled within a few seconds\n"
        )
        engine.lease_keeper.renew(clock.now())
        settle(engine)
    after = store.executions.get(run.id)
    assert (after.status, after.reason) == (ExecutionStatus.CANCELLED, "cancelled by cli:alice")
    entry = store.audit.list(limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == ("cli:alice", "execution.cancel", "long")


def test_runs_cancel_json_of_a_queued_run(store: Store) -> None:
    task = add_task(store, "later", ("true",), next_run_at=T0)
    queued = store.executions.enqueue(task.id, scheduled_for=T0)
    code, out, _ = run_main("runs", "cancel", str(queued), "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["id"], shown["status"], shown["reason"]) == (queued, "cancelled", "cancelled by cli:alice")


def test_runs_cancel_of_an_unknown_or_ended_run_is_one_line_and_exit_two(store: Store) -> None:
    task = add_task(store, "later", ("true",), next_run_at=T0)
    queued = store.executions.enqueue(task.id, scheduled_for=T0)
    assert run_main("runs", "cancel", str(queued))[0] == 0
    assert run_main("runs", "cancel", str(queued)) == (
        2,
        "",
        f"smartcron: execution {queued} has already ended (cancelled)\n",
    )
    assert run_main("runs", "cancel", "4242") == (2, "", "smartcron: no execution with id 4242\n")


def test_runs_still_lists_with_its_options(store: Store) -> None:
    task = add_task(store, "later", ("true",), next_run_at=T0)
    store.executions.enqueue(task.id, scheduled_for=T0)
    code, out, _ = run_main("runs", "--task", "later", "--json")
    assert code == 0 and [r["task"] for r in json.loads(out)] == ["later"]
