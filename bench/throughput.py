"""Sustained throughput: trivial runs recorded per second while the runner is kept busy.

    .venv/bin/python bench/throughput.py                      # 3,000 runs, SQLite, then PostgreSQL
    .venv/bin/python bench/throughput.py --runs 10000 --database sqlite

3,000 runs of ``true`` wait in the queue (manual runs, one per task, as "run now" queues them; the
tasks have run before, so their log files exist) when the daemon starts (in this process, real
clock, real processes, logging as in production); it starts them as fast as it may
(``runner.max_parallel`` at a time) and records every one. The figure is runs recorded per second,
from the daemon's start to the last row written (DESIGN 8: >= 1,000/s on SQLite, >= 500/s on
PostgreSQL).

The floor: plain ``subprocess`` starting the same number of ``true`` and waiting for them all.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure
from bench.runner_home import (
    BenchDaemon,
    bench_home,
    bench_settings,
    open_bench_store,
    postgresql_url,
    register,
    spawn_floor,
    trivial_tasks,
)

from smartcron.config import Settings
from smartcron.domain.enums import Trigger
from smartcron.logs import task_log_path
from smartcron.store import Store
from smartcron.store.executions import SlotClaim

RUNS = 3000
QUICK_RUNS = 1000
TARGETS = {"sqlite": 1000.0, "postgresql": 500.0}
QUEUE_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Throughput:
    dialect: str
    runs: int
    seconds: float
    floor_seconds: float

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds

    @property
    def floor_per_second(self) -> float:
        return self.runs / self.floor_seconds


class Recorded:
    def __init__(self, expected: int) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.last = 0.0
        self.expected = expected
        self.all = threading.Event()

    def finished(self, _begun: float, ended: float, _size: int, written: int) -> None:
        with self.lock:
            self.count += written
            self.last = max(self.last, ended)
            if self.count >= self.expected:
                self.all.set()


def queue_runs(store: Store, settings: Settings, runs: int) -> None:
    """One queued manual run per task, as `smartcron tasks run` or the dashboard queue them. The
    tasks have run before: their log files exist (creating a file is a first run's cost)."""
    specs = trivial_tasks(runs, prefix="busy")
    register(store, specs, next_run_at=None)
    for spec in specs:
        path = task_log_path(settings.log_dir, spec.category, spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    now = datetime.now(UTC)
    claims = [SlotClaim(task_id, now, Trigger.MANUAL) for task_id in range(1, runs + 1)]
    for start in range(0, runs, QUEUE_CHUNK):
        store.executions.claim(claims[start : start + QUEUE_CHUNK], node="web", token=f"queue{start}", now=now)


def measure(runs: int, database_url: str | None = None) -> Throughput:
    with bench_home("throughput") as home:
        settings = bench_settings(home, database_url=database_url)
        store = open_bench_store(settings)
        try:
            floor_seconds = spawn_floor(runs)[1]
            queue_runs(store, settings, runs)
            recorded = Recorded(runs)
            daemon = BenchDaemon(settings, store, home=home, on_finish=recorded.finished)
            begun = time.perf_counter()
            with daemon:
                if not recorded.all.wait(300):
                    raise RuntimeError(f"only {recorded.count} of {runs} runs recorded within five minutes")
            return Throughput(store.dialect, recorded.count, recorded.last - begun, floor_seconds)
        finally:
            store.close()


def _figure(result: Throughput) -> Figure:
    return Figure(
        f"throughput.{result.dialect}_runs_per_s",
        result.per_second,
        "runs/s",
        TARGETS[result.dialect],
        better="higher",
        floor=result.floor_per_second,
        note=f"{result.runs} queued runs of `true`; floor: subprocess start+wait of the same",
    )


def figures(quick: bool) -> list[Figure]:
    runs = QUICK_RUNS if quick else RUNS
    result = [_figure(measure(runs))]
    with postgresql_url() as url:
        if url is None:
            result.append(Figure("throughput.postgresql_runs_per_s", float("nan"), "runs/s", TARGETS["postgresql"],
                                 better="higher", note="skipped: PostgreSQL unreachable"))  # fmt: skip
        else:
            result.append(_figure(measure(runs, url)))
    return result


def report(result: Throughput) -> None:
    target = TARGETS.get(result.dialect, 0.0)
    print(f"{result.dialect:10} {result.per_second:8.0f} runs/s  ({result.runs} runs in {result.seconds:.2f} s; "
          f"target >= {target:.0f}; floor {result.floor_per_second:.0f}/s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    arguments = parser.parse_args()
    if arguments.database in ("sqlite", "both"):
        report(measure(arguments.runs))
    if arguments.database in ("postgresql", "both"):
        with postgresql_url() as url:
            if url is None:
                print("postgresql: unreachable, skipped")
            else:
                report(measure(arguments.runs, url))


if __name__ == "__main__":
    main()
