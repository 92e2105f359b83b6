"""1,000 trivial tasks due at one instant: how fast the runner starts and records them all.

    .venv/bin/python bench/burst.py                   # 1,000 tasks, SQLite in a temporary home
    .venv/bin/python bench/burst.py --tasks 2000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The runner daemon (in this process, real clock, real processes, logging as in production) sleeps
until the instant all the tasks are due, then plans, claims, starts and records them. Measured
from that instant:

* all started: until the spawner's answer for the last run came (DESIGN 8: within 1 s);
* all recorded: until the last run's row was written;
* runner overhead per run: the time smartcron spends on a run outside spawning it, start side (how
  long the spawner waited for the run's request: before the first, planning, claiming, ``begin``;
  between two, the gap from one answer to the next request when the next was not already sent)
  plus record side (its share of the batched ``finish`` that wrote it). DESIGN 8: p50 <= 1 ms.

Beside them, the floor: the same number of ``true`` processes started with plain ``subprocess`` in
this run, as fast as a loop can (and reaped, for "all recorded").
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, percentile
from bench.runner_home import (
    BenchDaemon,
    bench_home,
    bench_settings,
    open_bench_store,
    perf_of,
    register,
    spawn_floor,
    trivial_tasks,
)

from smartcron.config import Settings
from smartcron.store import Store

LEAD_SECONDS = 2.0
"""The tasks fall due this long after the daemon starts, so it is asleep, waiting, at that instant."""
TASKS = 1000
GROWTH = (100, 1000, 10000)


@dataclass(frozen=True, slots=True)
class Burst:
    tasks: int
    dialect: str
    lateness: float  # seconds from the instant to the first spawn
    all_started: float
    all_recorded: float
    overhead: list[float]  # seconds per run
    spawn_each: list[float]
    floor_started: float
    floor_reaped: float


class Timings:
    def __init__(self, expected: int) -> None:
        self.lock = threading.Lock()
        self.expected = expected
        self.spawns: list[tuple[float, float]] = []  # (sent, answered) of each spawn request, perf_counter
        self.batches: list[tuple[float, float, int]] = []  # (begun, ended, size) of each recorded batch
        self.recorded = 0
        self.all_recorded = threading.Event()

    def spawned(self, _seq: int, begun: float, returned: float) -> None:
        with self.lock:
            self.spawns.append((begun, returned))

    def finished(self, begun: float, ended: float, size: int, written: int) -> None:
        with self.lock:
            self.batches.append((begun, ended, size))
            self.recorded += written
            if self.recorded >= self.expected:
                self.all_recorded.set()


def measure(tasks: int, database_url: str | None = None) -> Burst:
    with bench_home("burst") as home:
        settings = bench_settings(home, database_url=database_url, runner_max_parallel=min(10000, max(256, tasks)))
        store = open_bench_store(settings)
        try:
            return _measure(home, store, settings, tasks)
        finally:
            store.close()


def _measure(home: Path, store: Store, settings: Settings, tasks: int) -> Burst:
    floor_started, floor_reaped = spawn_floor(tasks)
    due_at = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS + tasks / 5000)  # room to register them
    register(store, trivial_tasks(tasks, prefix="burst"), next_run_at=due_at)
    timings = Timings(tasks)
    with BenchDaemon(settings, store, home=home, on_spawn=timings.spawned, on_finish=timings.finished):
        due_perf = perf_of(due_at)
        finished = timings.all_recorded.wait((due_at - datetime.now(UTC)).total_seconds() + 120)
    if not finished:
        raise RuntimeError(f"only {timings.recorded} of {tasks} runs recorded within two minutes")

    spawns = sorted(timings.spawns)
    # Start side: how long the spawner waited for the runner's next request (requests are
    # pipelined, so a request sent before the previous answer came cost the spawner nothing).
    start_overhead = [spawns[0][0] - due_perf] + [max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spawns)]
    # Each batch's time is shared by its runs; spread the shares over the runs in start order.
    shares = [(end - begun) / size for begun, end, size in sorted(timings.batches) for _ in range(size)]
    return Burst(
        tasks=tasks,
        dialect=store.dialect,
        lateness=spawns[0][0] - due_perf,
        all_started=spawns[-1][1] - due_perf,
        all_recorded=max(end for _, end, _ in timings.batches) - due_perf,
        overhead=[s + r for s, r in zip(start_overhead, shares, strict=False)],
        spawn_each=[end - begun for begun, end in spawns],
        floor_started=floor_started,
        floor_reaped=floor_reaped,
    )


def figures(quick: bool) -> list[Figure]:
    runs = [measure(TASKS) for _ in range(1 if quick else 3)]
    burst = sorted(runs, key=lambda b: b.all_started)[len(runs) // 2]  # the median run
    note = f"{TASKS} tasks, SQLite, {os.cpu_count()} CPUs" + ("" if quick else f", median of {len(runs)} runs")
    ms = 1000.0
    result = [
        Figure("burst.all_started_s", burst.all_started, "s", 1.0, floor=burst.floor_started, note=note),
        Figure("burst.all_recorded_s", burst.all_recorded, "s", None, floor=burst.floor_reaped, note=note),
        Figure("runner.overhead_p50_ms", statistics.median(burst.overhead) * ms, "ms", 1.0, note=note),
        Figure("runner.overhead_p99_ms", percentile(burst.overhead, 0.99) * ms, "ms", None, note=note),
    ]
    if not quick:
        for count in GROWTH:
            grown = burst if count == TASKS else measure(count)
            growth_note = f"{count} tasks due at one instant"
            result += [
                Figure(f"burst.all_started_s@{count}", grown.all_started, "s", None, floor=grown.floor_started,
                       note=growth_note),
                Figure(f"burst.all_recorded_s@{count}", grown.all_recorded, "s", None, floor=grown.floor_reaped,
                       note=growth_note),
            ]  # fmt: skip
    return result


def report(burst: Burst) -> None:
    ms = 1000.0
    print(f"burst: {burst.tasks} tasks due at one instant, {burst.dialect}, {os.cpu_count()} CPUs")
    print(f"{'figure':44} {'measured':>12} {'target':>10}")
    print(f"{'start lateness (first spawn)':44} {burst.lateness * ms:10.1f} ms")
    print(f"{'all started':44} {burst.all_started * ms:10.1f} ms {'<= 1000 ms':>10}")
    print(f"{'all recorded':44} {burst.all_recorded * ms:10.1f} ms")
    print(f"{'runner overhead per run, p50':44} {statistics.median(burst.overhead) * ms:10.3f} ms {'<= 1 ms':>10}")
    print(f"{'runner overhead per run, p99':44} {percentile(burst.overhead, 0.99) * ms:10.3f} ms")
    print(f"{'spawn request to answer, p50':44} {statistics.median(burst.spawn_each) * ms:10.3f} ms")
    print("floor: plain subprocess, same processes, same run")
    print(f"{'  all started':44} {burst.floor_started * ms:10.1f} ms")
    print(f"{'  all started and reaped':44} {burst.floor_reaped * ms:10.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--database-url", help="default: SQLite in the temporary home")
    arguments = parser.parse_args()
    report(measure(arguments.tasks, arguments.database_url))


if __name__ == "__main__":
    main()
