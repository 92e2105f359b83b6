"""Helpers for health monitor tests: quiet system readers, running rows, real task processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from smartcron.domain.enums import Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.task import TaskSpec
from smartcron.monitor.checks import SystemReaders
from smartcron.runner.process.procinfo import process_start_time
from smartcron.store import Store
from smartcron.store.executions import SlotClaim, Start

QUIET = SystemReaders(
    disk_used_percent=lambda _path: 40.0,
    memory_percent=lambda: 30.0,
    cpu_percent=lambda: 5.0,
    load_average=lambda: (0.1, 0.1, 0.1),
    cpu_count=lambda: 2,
    directory_size=lambda _path: 1024,
    process_rss_mb=lambda _pid: 42.0,
)
"""A calm machine, so only what a test changes can warn or fail."""


def readers(**overrides: Any) -> SystemReaders:
    return replace(QUIET, **overrides)


def add_task(store: Store, name: str = "sync", *, now: datetime, **spec: Any) -> int:
    task = TaskSpec(name=name, command=("true",), schedule="* * * * *", **spec)
    return store.tasks.add(task, now=now, next_run_at=now).id


def running_row(
    store: Store,
    task_id: int,
    *,
    node: str,
    started: datetime,
    lease_until: datetime,
    pid: int | None = None,
    token: str = "lease-1",
) -> Execution:
    """A ``running`` row as a runner leaves it after spawning ``pid`` (its own process group)."""
    [claimed] = store.executions.claim(
        [SlotClaim(task_id, started, Trigger.SCHEDULE)], node=node, token=f"claim-{token}", now=started
    )
    store.executions.begin([claimed.id], node=node, token=token, now=started, lease_until=lease_until)
    if pid is not None:
        start = Start(claimed.id, task_id, started, pid=pid, pgid=pid, proc_start=process_start_time(pid))
        store.executions.attach([start], token=token)
    return store.executions.get(claimed.id)


class Processes:
    """Real processes a test starts; every one is killed and reaped at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, process_group=0, stdin=subprocess.DEVNULL)
        self.started.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    found = Processes()
    yield found
    found.close()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
