"""Shared pieces of the runner service tests: settings for a given store, tasks, an engine, waiting."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from smartcron.clock import Clock
from smartcron.config import Settings, load_settings
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task, TaskSpec
from smartcron.runner.engine import Engine
from smartcron.store import Store

CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
SETTLE_SECONDS = 60.0  # a bound only a hang reaches; never a performance assertion


def settings_for(store: Store, home: Path, **overrides: Any) -> Settings:
    """Settings whose database is ``store`` and whose files live under ``home``."""
    url = store.engine.url.render_as_string(hide_password=False)
    values: dict[str, Any] = {"database_url": url, "node": "node-a", "timezone": "UTC"}
    values.update(overrides)
    return load_settings(env={"SMARTCRON_HOME": str(home)}, euid=1000, overrides=values)


def add_task(store: Store, name: str, command: tuple[str, ...], *, next_run_at: datetime, **spec: Any) -> Task:
    fields: dict[str, Any] = {"schedule": "* * * * *"}
    fields.update(spec)
    return store.tasks.add(TaskSpec(name=name, command=command, **fields), now=next_run_at, next_run_at=next_run_at)


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


def settle(engine: Engine) -> None:
    """Wait until every started run has ended and is recorded."""
    assert engine.supervisor.wait_idle(SETTLE_SECONDS), "runs did not end"
    assert engine.recorder.flush(SETTLE_SECONDS), "runs were not recorded"


def runs_of(store: Store, task: Task) -> list[Execution]:
    """The task's rows, oldest first."""
    return sorted(store.executions.list(task_id=task.id, limit=10_000), key=lambda e: (e.scheduled_for, e.attempt))
