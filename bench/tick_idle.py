"""``smartcron tick`` with nothing due: the wall time of the command as cron runs it every minute.

    .venv/bin/python bench/tick_idle.py               # 1,000 tasks, SQLite
    .venv/bin/python bench/tick_idle.py --tasks 10000 --runs 11

The command is the installed console script, run as a subprocess in a home whose registry holds the
given number of tasks, none due (DESIGN 8: <= 300 ms with 1,000 tasks). The figure is the median of
several runs after one warm-up run (which also compiles the bytecode, as an installation would).

The floor: the same interpreter starting and importing what any command on the database must
(SQLAlchemy and the SQLite driver), and doing nothing else.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, median
from bench.runner_home import bench_home, bench_settings, open_bench_store, register, trivial_tasks

TARGET_MS = 300.0
TASKS = 1000
GROWTH = (100, 1000, 10000)
FLOOR_CODE = "import sqlalchemy, sqlite3"


def tick_command() -> list[str]:
    script = Path(sys.executable).with_name("smartcron")
    return [str(script), "tick"] if script.exists() else [sys.executable, "-m", "smartcron", "tick"]


def wall_ms(command: Sequence[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        begun = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - begun) * 1000)
    return times


def measure(tasks: int, runs: int) -> tuple[list[float], list[float]]:
    """(tick wall times, floor wall times), in ms."""
    with bench_home("tick") as home:
        settings = bench_settings(home)
        store = open_bench_store(settings)
        try:
            far = datetime.now(UTC) + timedelta(days=300)
            register(store, trivial_tasks(tasks, prefix="idle"), next_run_at=far)
        finally:
            store.close()
        env = {**os.environ, "SMARTCRON_HOME": str(home)}
        env.pop("SMARTCRON_CONFIG", None)
        env.pop("SMARTCRON_DATABASE_URL", None)
        warm = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        wall_ms(tick_command(), warm, 1)
        ticks = wall_ms(tick_command(), env, runs)
        floor = wall_ms([sys.executable, "-c", FLOOR_CODE], env, runs)
    return ticks, floor


def figures(quick: bool) -> list[Figure]:
    runs = 5 if quick else 11
    ticks, floor = measure(TASKS, runs)
    note = f"median of {runs} runs; floor: python -c '{FLOOR_CODE}'"
    result = [Figure("tick.idle_1000_tasks_ms", median(ticks), "ms", TARGET_MS, floor=median(floor), note=note)]
    if not quick:
        for count in GROWTH:
            grown, grown_floor = (ticks, floor) if count == TASKS else measure(count, runs)
            result.append(
                Figure(f"tick.idle_ms@{count}", median(grown), "ms", None, floor=median(grown_floor),
                       note=f"{count} tasks, none due")
            )  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--runs", type=int, default=7)
    arguments = parser.parse_args()
    ticks, floor = measure(arguments.tasks, arguments.runs)
    print(f"smartcron tick, {arguments.tasks} tasks, none due, {arguments.runs} runs")
    print(f"{'':8} {'median':>9} {'min':>9}")
    print(f"{'tick':8} {median(ticks):7.1f}ms {min(ticks):7.1f}ms   target <= {TARGET_MS:.0f} ms")
    print(f"{'floor':8} {median(floor):7.1f}ms {min(floor):7.1f}ms   python -c '{FLOOR_CODE}'")


if __name__ == "__main__":
    main()
