"""What the runner benchmarks share: a throwaway home with a store and tasks, the daemon running in
this process the way ``smartcron run`` runs it, and the spawning floor measured beside it.

The daemon here is the real one (real clock, real processes, logging to master.log as in
production); only the spawn and finish calls are wrapped to take timestamps, never changed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from smartcron.clock import SystemClock
from smartcron.config import Settings, load_settings
from smartcron.domain.task import TaskSpec
from smartcron.logs import configure
from smartcron.runner.daemon import Daemon
from smartcron.store import Store, open_store
from smartcron.store.schema import tasks as tasks_table
from smartcron.store.tasks import spec_to_row

PG_ADMIN_URL = os.environ.get("SMARTCRON_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
REGISTER_CHUNK = 1000


@contextlib.contextmanager
def bench_home(purpose: str) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix=f"smartcron-{purpose}-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_settings(home: Path, *, database_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"node": "bench", **overrides}
    if database_url:
        values["database_url"] = database_url
    return load_settings(env={"SMARTCRON_HOME": str(home)}, euid=os.geteuid(), overrides=values)


def open_bench_store(settings: Settings) -> Store:
    store = open_store(settings)
    store.upgrade()
    return store


def register(store: Store, specs: Sequence[TaskSpec], *, next_run_at: datetime | None) -> None:
    """Add tasks in bulk: the registry's own path validates each one and would dominate the setup."""
    now = datetime.now(UTC)
    extra = {"builtin": False, "next_run_at": next_run_at, "created_at": now, "updated_at": now}
    rows = [spec_to_row(spec) | extra for spec in specs]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), REGISTER_CHUNK):
            conn.execute(insert(tasks_table), rows[start : start + REGISTER_CHUNK])


def trivial_tasks(count: int, *, prefix: str, schedule: str = "0 0 1 1 *", **fields: Any) -> list[TaskSpec]:
    return [TaskSpec(name=f"{prefix}{i:05d}", command=("true",), schedule=schedule, retries=0, **fields)
            for i in range(count)]  # fmt: skip


@contextlib.contextmanager
def postgresql_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for one benchmark (dropped afterwards); None when unreachable."""
    name = f"smartcron_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        yield None
        return
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class BenchDaemon:
    """The daemon in a thread of this process, logging as ``smartcron run --quiet`` does, with a
    hook on every process start (``on_spawn(seq, request_sent, answer_read)``, perf_counter) and
    every written batch of finished runs (``on_finish(begun, ended, size, written)``)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        home: Path,
        on_spawn: Callable[[int, float, float], None] | None = None,
        on_finish: Callable[[float, float, int, int], None] | None = None,
        background: bool = True,
    ) -> None:
        configure(settings.log_dir, "runner")
        self.daemon = Daemon(
            settings,
            store,
            clock=SystemClock(),
            base_env={"PATH": CHILD_PATH, "HOME": str(home), "LANG": "C.UTF-8"},
            cwd=os.getcwd(),  # as `smartcron run` does
            background=background,
        )
        self._restore: tuple[Any, Any] | None = None
        if on_spawn is not None:
            self._time_launches(on_spawn)
        if on_finish is not None:
            finish = store.executions.finish

            def timed_finish(finishes: Sequence[Any], *, token: str | None) -> set[int]:
                begun = time.perf_counter()
                written = finish(finishes, token=token)
                on_finish(begun, time.perf_counter(), len(finishes), len(written))
                return written

            store.executions.finish = timed_finish  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self.daemon.run, name="bench-daemon")

    def _time_launches(self, on_spawn: Callable[[int, float, float], None]) -> None:
        """Time every spawn for as long as this daemon runs: from the runner sending its request
        to the spawner to the spawner's answer (the child has exec'ed), by the request's number.
        The spawner answers in order, so the n-th answer is the n-th request's."""
        from smartcron.runner.process.spawner import Spawner

        sent: list[tuple[int, float]] = []
        send, receive = Spawner._send, Spawner._receive
        self._restore = (send, receive)

        def timed_send(spawner: Spawner, request: Any) -> None:
            sent.append((request.seq, time.perf_counter()))
            send(spawner, request)

        def timed_receive(spawner: Spawner) -> Any:
            answer = receive(spawner)
            for index, (seq, begun) in enumerate(sent):
                if seq == answer.seq:
                    del sent[index]
                    on_spawn(seq, begun, time.perf_counter())
                    break
            return answer

        Spawner._send = timed_send  # type: ignore[method-assign]
        Spawner._receive = timed_receive  # type: ignore[method-assign]

    def __enter__(self) -> BenchDaemon:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.daemon.request_stop()
        self._thread.join()
        if self._restore is not None:
            from smartcron.runner.process.spawner import Spawner

            Spawner._send, Spawner._receive = self._restore  # type: ignore[method-assign]


def spawn_floor(count: int) -> tuple[float, float]:
    """Plain ``subprocess``, the same ``true`` processes, as fast as a loop can: (seconds until all
    started, seconds until all started and reaped)."""
    children = []
    first = time.perf_counter()
    for _ in range(count):
        children.append(
            subprocess.Popen(["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        )
    started = time.perf_counter() - first
    for child in children:
        child.wait()
    return started, time.perf_counter() - first


def perf_of(instant: datetime) -> float:
    """``instant`` (wall clock) on the perf_counter scale, which the timestamps above use."""
    return time.perf_counter() + (instant - datetime.now(UTC)).total_seconds()
