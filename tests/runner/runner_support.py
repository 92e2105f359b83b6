"""Shared pieces of the runner service tests: settings for a given store, tasks, an engine, waiting."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from smartcron.clock import Clock
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task, TaskSpec
from smartcron.runner.scheduling.engine import Engine
from smartcron.store import Store, open_store
from smartcron.store.executions import Finish, SlotClaim

CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
SETTLE_SECONDS = 60.0  # a bound only a hang reaches; never a performance assertion


def settings_for(store: Store, home: Path, **overrides: Any) -> Settings:
    """Settings whose database is ``store`` and whose files live under ``home``."""
    url = store.engine.url.render_as_string(hide_password=False)
    values: dict[str, Any] = {"database_url": url, "node": "node-a", "timezone": "UTC"}
    values.update(overrides)
    return load_settings(env={"SMARTCRON_HOME": str(home)}, euid=1000, overrides=values)


def add_task(
    store: Store,
    name: str,
    command: tuple[str, ...],
    *,
    next_run_at: datetime,
    created: datetime | None = None,
    **spec: Any,
) -> Task:
    """A task registered at ``created`` (default: ``next_run_at``)."""
    fields: dict[str, Any] = {"schedule": "* * * * *"}
    fields.update(spec)
    spec_ = TaskSpec(name=name, command=command, **fields)
    return store.tasks.add(spec_, now=created or next_run_at, next_run_at=next_run_at)


@contextmanager
def running_engine(
    settings: Settings, store: Store, clock: Clock, *, role: str = "tick", seed: int = 1, cwd: str | None = None
) -> Iterator[Engine]:
    engine = Engine(
        settings,
        store,
        clock=clock,
        role=role,
        base_env=CHILD_ENV,
        cwd=cwd or os.getcwd(),
        rng=random.Random(seed),
    )
    engine.start()
    try:
        yield engine
    finally:
        engine.stop(grace=0)


def settle(engine: Engine, bound: float = SETTLE_SECONDS) -> None:
    """Wait until every started run has ended and is recorded."""
    assert engine.supervisor.wait_idle(bound), "runs did not end"
    assert engine.recorder.flush(bound), "runs were not recorded"


def runs_of(store: Store, task: Task) -> list[Execution]:
    """The task's rows, oldest first."""
    return sorted(store.executions.list(task_id=task.id, limit=10_000), key=lambda e: (e.scheduled_for, e.attempt))


def home_store(home: Path) -> tuple[Settings, Store]:
    """A SQLite store under ``home`` (SMARTCRON_HOME) for tests that run smartcron as a subprocess."""
    settings = load_settings(env={"SMARTCRON_HOME": str(home)}, euid=1000, overrides={"timezone": "UTC"})
    store = open_store(settings)
    store.upgrade()
    return settings, store


def smartcron_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a smartcron subprocess: only what it needs, settings as SMARTCRON_* variables."""
    env = CHILD_ENV | {"SMARTCRON_HOME": str(home), "SMARTCRON_TIMEZONE": "UTC"}
    env.update({f"SMARTCRON_{name.upper()}": value for name, value in settings.items()})
    return env


def smartcron(*args: str, env: dict[str, str], cwd: Path, output: str = "smartcron.out") -> subprocess.Popen[bytes]:
    """Start ``smartcron ARGS`` in its own session (a signal to it reaches nothing of the test's);
    its stdout and stderr go to ``cwd/output``."""
    with open(cwd / output, "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "smartcron", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def failed_and_left(store: Store, task: Task, *, at: datetime) -> datetime:
    """A run that failed and was recorded by a runner killed before its retry was due; its end."""
    [row] = store.executions.claim([SlotClaim(task.id, at, Trigger.SCHEDULE)], node="gone", token="t", now=at)
    store.executions.begin([row.id], node="gone", token="t", now=at, lease_until=at + timedelta(minutes=1))
    ended = at + timedelta(seconds=1)
    outcome = Outcome(ExecutionStatus.FAILED, ended, exit_code=1, error_category=ErrorCategory.RECOVERABLE)
    store.executions.finish([Finish(row.id, task.id, outcome)], token="t")
    return ended
