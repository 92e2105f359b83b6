"""What one run costs the runner: statements sent to the database, CPU by thread, and whether its
row got a peak-memory figure.

    .venv/bin/python bench/run_cost.py                      # 1,000 runs, SQLite, then PostgreSQL
    .venv/bin/python bench/run_cost.py --runs 3000 --database sqlite

The same drain as ``throughput.py`` (queued runs of ``true``, the real daemon in this process),
with a ``before_cursor_execute`` listener on the store's engine counting every statement the
runner sends (an ``executemany`` is one round trip with many parameter sets, counted apart), and
the CPU time of each thread of this process and of the spawner process read from ``/proc`` before
and after. Background upkeep (heartbeat, lease renewal, chores) is counted too: it is what the
runner does while it runs them.

Figures: statements per run, parameter sets per run, the runner's CPU per run (all its threads
plus the spawner), and the share of runs whose row holds a peak-memory figure or bound
(``max_rss_kb`` or ``max_rss_kb_below``; target 100 %). The floor, measured in the same run: the
CPU per process of a plain ``subprocess`` loop starting and reaping the same ``true`` processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure
from bench.runner_home import BenchDaemon, bench_home, bench_settings, open_bench_store, postgresql_url, spawn_floor
from bench.throughput import Recorded, queue_runs
from sqlalchemy import event, func, or_, select

from smartcron.store.schema import executions

RUNS = 1000
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Statements:
    """Statements sent, by their first words (``SELECT smart_cron_executions``), and parameter sets."""

    calls: Counter[str] = field(default_factory=Counter)
    param_sets: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        kind = _kind(statement)
        with self.lock:
            self.calls[kind] += 1
            self.param_sets[kind] += len(parameters) if many else 1


def _kind(statement: str) -> str:
    words = statement.split()
    verb = words[0].upper() if words else "?"
    table = next((w.strip('"`(') for w in words if "smart_cron_" in w), "")
    return f"{verb} {table}".strip()


def _thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native thread id."""
    found = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(tid)] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def _children_cpu() -> float:
    """CPU seconds of this process's live child processes (the spawner), without their children."""
    total = 0.0
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


@dataclass(frozen=True, slots=True)
class RunCost:
    dialect: str
    runs: int
    statements: Counter[str]
    param_sets: Counter[str]
    cpu_by_thread: dict[str, float]  # seconds, by thread name (the spawner as "spawner process")
    with_peak: int
    floor_cpu_per_run: float

    def per_run(self, value: float) -> float:
        return value / self.runs


def measure(runs: int, database_url: str | None = None) -> RunCost:
    with bench_home("runcost") as home:
        settings = bench_settings(home, database_url=database_url)
        store = open_bench_store(settings)
        try:
            floor_begun = resource.getrusage(resource.RUSAGE_SELF)
            spawn_floor(runs)
            floor_ended = resource.getrusage(resource.RUSAGE_SELF)
            floor_cpu = (floor_ended.ru_utime - floor_begun.ru_utime) + (floor_ended.ru_stime - floor_begun.ru_stime)
            queue_runs(store, settings, runs)
            recorded = Recorded(runs)
            statements = Statements()
            daemon = BenchDaemon(settings, store, home=home, on_finish=recorded.finished)
            cpu_before = _thread_cpu()
            event.listen(store.engine, "before_cursor_execute", statements.listen)
            try:
                with daemon:
                    if not recorded.all.wait(300):
                        raise RuntimeError(f"only {recorded.count} of {runs} runs recorded within five minutes")
                    cpu_after = _thread_cpu()
                    spawner_cpu = _children_cpu()
                    names = {t.native_id: t.name for t in threading.enumerate()}
            finally:
                event.remove(store.engine, "before_cursor_execute", statements.listen)
            by_thread: Counter[str] = Counter()
            for tid, seconds in cpu_after.items():
                name = names.get(tid, "other")
                if name in ("MainThread",):
                    continue  # this benchmark waiting
                by_thread[name.split("-")[0] if name.startswith("Thread-") else name] += seconds - cpu_before.get(
                    tid, 0.0
                )
            by_thread["spawner process"] = spawner_cpu
            peaked = or_(executions.c.max_rss_kb.is_not(None), executions.c.max_rss_kb_below.is_not(None))
            with store.engine.connect() as conn:
                with_peak = int(conn.execute(select(func.count()).where(peaked)).scalar_one())
            return RunCost(
                store.dialect,
                recorded.count,
                statements.calls,
                statements.param_sets,
                dict(by_thread),
                with_peak,
                floor_cpu / runs,
            )
        finally:
            store.close()


def figures(quick: bool) -> list[Figure]:
    results = [measure(RUNS)]
    with postgresql_url() as url:
        if url is not None:
            results.append(measure(RUNS, url))
    out = []
    for cost in results:
        cpu = sum(cost.cpu_by_thread.values())
        threads = ", ".join(f"{k} {cost.per_run(v) * 1e6:.0f}" for k, v in sorted(cost.cpu_by_thread.items()))
        out += [
            Figure(f"run_cost.{cost.dialect}_statements_per_run", cost.per_run(sum(cost.statements.values())),
                   "statements", None, note=f"{cost.runs} queued runs; parameter sets per run "
                   f"{cost.per_run(sum(cost.param_sets.values())):.2f}"),
            Figure(f"run_cost.{cost.dialect}_cpu_us_per_run", cost.per_run(cpu) * 1e6, "us", None,
                   floor=cost.floor_cpu_per_run * 1e6,
                   note=f"by thread (us/run): {threads}; floor: CPU of a subprocess start+wait loop per process"),
            Figure(f"runs.{cost.dialect}_with_peak_memory_pct", 100.0 * cost.with_peak / cost.runs, "%", 100.0,
                   better="higher", floor=100.0, note="rows with max_rss_kb or max_rss_kb_below"),
        ]  # fmt: skip
    return out


def report(cost: RunCost) -> None:
    print(f"{cost.dialect}: {cost.runs} runs, {cost.with_peak} with a peak-memory figure or bound "
          f"({100.0 * cost.with_peak / cost.runs:.1f} %, target 100 %)")  # fmt: skip
    total = sum(cost.statements.values())
    sets = sum(cost.param_sets.values())
    print(f"  statements per run {cost.per_run(total):.3f} (parameter sets {cost.per_run(sets):.3f})")
    for kind, count in cost.statements.most_common():
        print(f"    {cost.per_run(count):7.3f}  ({cost.per_run(cost.param_sets[kind]):7.3f} sets)  {kind}")
    cpu = sum(cost.cpu_by_thread.values())
    print(f"  CPU per run {cost.per_run(cpu) * 1e6:.0f} us; floor (subprocess loop) "
          f"{cost.floor_cpu_per_run * 1e6:.0f} us")  # fmt: skip
    for name, seconds in sorted(cost.cpu_by_thread.items(), key=lambda kv: -kv[1]):
        print(f"    {cost.per_run(seconds) * 1e6:7.0f} us  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    arguments = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    if arguments.database in ("sqlite", "both"):
        report(measure(arguments.runs))
    if arguments.database in ("postgresql", "both"):
        with postgresql_url() as url:
            if url is None:
                print("postgresql: unreachable, skipped")
            else:
                report(measure(arguments.runs, url))
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
