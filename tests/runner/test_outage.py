"""A database that goes away: said once, tried again with backoff, outcomes kept on disk until it is back."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus
from smartcron.errors import UserError
from smartcron.runner.daemon import Daemon
from smartcron.runner.runlock import daemon_starting_here, hold_runner_lock
from smartcron.runner.scheduling.connectivity import DatabaseStatus, backoff, is_unreachable
from smartcron.runner.scheduling.engine import spool_of
from smartcron.runner.scheduling.replay import replay_spool
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import CHILD_ENV, add_task, running_engine, runs_of, settings_for, settle, wait_until

T0 = utc(2026, 3, 1, 10)


def unreachable() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_the_status_says_each_change_once_and_keeps_a_status_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    outages: list[str] = []
    status = DatabaseStatus(
        clock=clock,
        status_file=tmp_path / "runner-a-runner.status.json",
        identity={"node": "a"},
        alert_after=60,
        on_outage=lambda since, reason: outages.append(reason),
    )
    with caplog.at_level(logging.WARNING, logger="smartcron.runner.scheduling.connectivity"):
        for _ in range(50):  # every thread, every attempt
            status.failed(unreachable())
        clock.advance(30)
        status.check()
        state = json.loads((tmp_path / "runner-a-runner.status.json").read_text())
        clock.advance(31)
        status.check()
        status.check()
        wait_until(lambda: len(outages) == 1, "the outage alert")
        status.succeeded()
        status.succeeded()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "database unreachable since 10:00:00 UTC: connection refused",
        "database reachable again after 61 s",
    ]
    assert all(record.exc_info is None for record in caplog.records)  # no traceback per attempt
    assert (state["node"], state["database"], state["reason"]) == ("a", "unreachable", "connection refused")
    assert outages == ["connection refused"]
    assert json.loads((tmp_path / "runner-a-runner.status.json").read_text())["database"] == "reachable"


def test_backoff_doubles_to_a_few_seconds_with_jitter() -> None:
    import random

    rng = random.Random(7)
    pauses = [backoff(n, rng) for n in range(1, 40)]
    assert 0.125 <= pauses[0] <= 0.25
    assert all(pause <= 4.0 for pause in pauses)
    assert max(pauses[10:]) > 2.0  # it does reach the cap's neighbourhood
    assert len({round(p, 6) for p in pauses[10:]}) > 1  # jitter: nodes do not come back in step


def test_a_daemon_whose_database_fails_backs_off_and_never_ends(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(store, "steady", ("true",), next_run_at=T0 + timedelta(hours=1))
    daemon = Daemon(settings, store, clock=clock, base_env=CHILD_ENV, cwd=str(tmp_path), background=False)
    attempts: list[float] = []
    real_pass = daemon.engine.run_pass

    def failing_pass(now: Any, **kwargs: Any) -> Any:
        attempts.append(clock.monotonic())
        if now < T0 + timedelta(minutes=10):
            raise unreachable()
        return real_pass(now, **kwargs)

    monkeypatch.setattr(daemon.engine, "run_pass", failing_pass)
    daemon.run(until=T0 + timedelta(minutes=11))
    during = [mono for mono in attempts if mono - attempts[0] < 600]
    # Ten minutes of outage: a try every few seconds at most, not a spin (the old loop made 1,000+).
    assert 100 <= len(during) <= 600
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps) <= 4.0 + 1.0  # never longer than the cap (and the one-second poll)
    assert len(attempts) > len(during)  # and passes went on after the database came back


def test_outcomes_that_cannot_be_written_wait_in_the_spool_and_the_next_runner_writes_them(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "during_outage", ("sh", "-c", "echo done"), next_run_at=T0)
    spool = spool_of(settings)
    down = threading.Event()
    down.set()
    real_finish = store.executions.finish

    def finish(*args: Any, **kwargs: Any) -> Any:
        if down.is_set():
            raise unreachable()
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(store.executions, "finish", finish)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        wait_until(lambda: len(spool.load()) == 1, "the outcome in the spool")
    # The runner stopped while the database was still away: nothing was lost.
    [entry] = spool.load()
    [row] = runs_of(store, task)
    assert (entry.execution_id, entry.outcome.status, row.status) == (
        row.id,
        ExecutionStatus.SUCCESS,
        ExecutionStatus.RUNNING,
    )

    down.clear()
    with running_engine(settings, store, clock) as engine:
        assert replay_spool(engine) == 1
        settle(engine)
    after = store.executions.get(row.id)
    assert (after.status, after.output, after.finished_at) == (
        ExecutionStatus.SUCCESS,
        "done\n",
        entry.outcome.finished_at,
    )
    assert spool.load() == []


def test_one_daemon_per_node_name_on_a_machine_and_a_starting_one_is_seen(tmp_path: Path, settings: Any) -> None:
    assert not daemon_starting_here(settings)
    with hold_runner_lock(settings):
        assert daemon_starting_here(settings)
        with pytest.raises(UserError, match="already running on this machine"):
            hold_runner_lock(settings)
    assert not daemon_starting_here(settings)


@pytest.mark.parametrize(
    ("code", "unreachable"),
    [(2013, True), (2006, True), (1213, False), (1205, False)],  # lost, gone away; deadlock, lock wait
)
def test_a_deadlock_victim_is_not_an_unreachable_database(code: int, unreachable: bool) -> None:
    error = OperationalError("UPDATE ...", {}, pymysql.err.OperationalError(code, "as MySQL says it"))
    assert is_unreachable(error) is unreachable
