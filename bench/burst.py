"""1,000 trivial tasks due at one instant: how fast the runner starts and records them all.

    .venv/bin/python bench/burst.py                   # 1,000 tasks, SQLite in a temporary home
    .venv/bin/python bench/burst.py --tasks 2000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The runner daemon (in this process, real clock, real processes) sleeps until the instant all the
tasks are due, then plans, claims, starts and records them. Measured from that instant:

* start lateness: until the first spawn begins;
* all started: until the last spawn returned;
* all recorded: until the last run's row was written (throughput = tasks / that);
* runner overhead per run: the time smartcron spends on a run outside the spawn call itself, start
  side (the gap before its spawn: planning, claiming, ``begin``, building the spec, recording the
  pid) plus record side (its share of the batched ``finish`` that wrote it).

Beside them, the floor: the same number of ``true`` processes started with plain ``subprocess`` in
this run, as fast as a loop can. Targets (DESIGN 8): all started within 1 s, >= 1,000 runs/s
recorded on SQLite (>= 500 on PostgreSQL), overhead p50 <= 1 ms.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from smartcron.clock import SystemClock
from smartcron.config import load_settings
from smartcron.domain.task import TaskSpec
from smartcron.runner.daemon import Daemon
from smartcron.runner.engine import Engine
from smartcron.runner.process import ProcessSpec, Spawned
from smartcron.store import open_store
from smartcron.store.tasks import TaskChange

LEAD_SECONDS = 3.0
"""The tasks fall due this long after the daemon starts, so it is asleep, waiting, at that instant."""


class Timings:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spawns: list[tuple[float, float]] = []  # (start, end) of each spawn call, perf_counter
        self.batches: list[tuple[float, float, int]] = []  # (start, end, size) of each recorded batch
        self.recorded = 0
        self.all_recorded = threading.Event()


def instrument(engine: Engine, timings: Timings, expected: int) -> None:
    """Time each spawn call and each batch the recorder writes (wrapping, not changing, both)."""
    spawn = engine.supervisor.spawn

    def timed_spawn(spec: ProcessSpec) -> Spawned:
        begun = time.perf_counter()
        try:
            return spawn(spec)
        finally:
            with timings.lock:
                timings.spawns.append((begun, time.perf_counter()))

    engine.supervisor.spawn = timed_spawn  # type: ignore[method-assign]
    store = engine.store.executions
    finish = store.finish

    def timed_finish(finishes: Sequence[object], *, token: str | None) -> set[int]:
        begun = time.perf_counter()
        written = finish(finishes, token=token)  # type: ignore[arg-type]
        with timings.lock:
            timings.batches.append((begun, time.perf_counter(), len(finishes)))
            timings.recorded += len(written)
            if timings.recorded >= expected:
                timings.all_recorded.set()
        return written

    store.finish = timed_finish  # type: ignore[method-assign]


def floor(count: int) -> tuple[float, list[float]]:
    """Start ``count`` `true` processes with plain subprocess; (seconds to start all, per-spawn seconds)."""
    each: list[float] = []
    children = []
    first = time.perf_counter()
    for _ in range(count):
        begun = time.perf_counter()
        children.append(
            subprocess.Popen(["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        )
        each.append(time.perf_counter() - begun)
    total = time.perf_counter() - first
    for child in children:
        child.wait()
    return total, each


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(tasks: int, database_url: str | None) -> None:
    home = Path(tempfile.mkdtemp(prefix="smartcron-burst-"))
    try:
        measure(home, tasks, database_url)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(home: Path, tasks: int, database_url: str | None) -> None:
    env = {"SMARTCRON_HOME": str(home)}
    overrides: dict[str, object] = {"runner_max_parallel": max(256, tasks * 2), "node": "bench"}
    if database_url:
        overrides["database_url"] = database_url
    settings = load_settings(env=env, euid=os.geteuid(), overrides=overrides)
    store = open_store(settings)
    store.upgrade()
    floor_total, floor_each = floor(tasks)

    due_at = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    specs = [TaskSpec(name=f"burst{i:05d}", command=("true",), schedule="0 0 1 1 *", retries=0) for i in range(tasks)]
    store.tasks.apply([TaskChange("add", spec, next_run_at=due_at) for spec in specs], now=datetime.now(UTC))

    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    daemon = Daemon(settings, store, clock=SystemClock(), base_env=base_env, cwd=str(home), background=False)
    timings = Timings()
    instrument(daemon.engine, timings, tasks)
    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    # perf_counter and the wall clock differ by a constant: map the due instant onto perf_counter.
    due_perf = time.perf_counter() + (due_at - datetime.now(UTC)).total_seconds()
    finished = timings.all_recorded.wait(LEAD_SECONDS + 120)
    daemon.request_stop()
    thread.join()
    if not finished:
        sys.exit(f"only {timings.recorded} of {tasks} runs recorded within two minutes")

    spawns = sorted(timings.spawns)
    started_all = spawns[-1][1] - due_perf
    lateness = spawns[0][0] - due_perf
    recorded_all = max(end for _, end, _ in timings.batches) - due_perf
    start_overhead = [spawns[0][0] - due_perf] + [b[0] - a[1] for a, b in itertools.pairwise(spawns)]
    # Each batch's time is shared by its runs; spread the shares over the runs in start order.
    shares = [(end - begun) / size for begun, end, size in timings.batches for _ in range(size)]
    per_run = [s + r for s, r in zip(start_overhead, shares, strict=False)]
    spawn_each = [end - begun for begun, end in spawns]
    store.close()

    ms = 1000.0
    print(f"burst: {tasks} tasks due at one instant, {store.dialect}, {os.cpu_count()} CPUs")
    print(f"{'figure':44} {'measured':>12} {'target':>10}")
    print(f"{'start lateness (first spawn)':44} {lateness * ms:10.1f} ms")
    print(f"{'all started':44} {started_all * ms:10.1f} ms {'<= 1000 ms':>10}")
    print(f"{'all recorded':44} {recorded_all * ms:10.1f} ms")
    target = ">= 1000/s" if store.dialect == "sqlite" else ">= 500/s"
    print(f"{'throughput (recorded runs per second)':44} {tasks / recorded_all:10.0f} /s {target:>10}")
    print(f"{'runner overhead per run, p50':44} {statistics.median(per_run) * ms:10.3f} ms {'<= 1 ms':>10}")
    print(f"{'runner overhead per run, p99':44} {percentile(per_run, 0.99) * ms:10.3f} ms")
    print(f"{'spawn call inside the runner, p50':44} {statistics.median(spawn_each) * ms:10.3f} ms")
    print("floor: plain subprocess, same processes, same run")
    print(f"{'  all started':44} {floor_total * ms:10.1f} ms")
    print(f"{'  spawn, p50':44} {statistics.median(floor_each) * ms:10.3f} ms")
    print(f"{'  spawns per second':44} {tasks / floor_total:10.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--database-url", help="default: SQLite in the temporary home")
    arguments = parser.parse_args()
    run(arguments.tasks, arguments.database_url)


if __name__ == "__main__":
    main()
