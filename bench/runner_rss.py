"""Runner memory: the resident set of ``smartcron run`` with 1,000 tasks registered, 100 running.

    .venv/bin/python bench/runner_rss.py               # 1,000 tasks, 100 of them running `sleep`
    .venv/bin/python bench/runner_rss.py --tasks 10000 --settle 15

The daemon is the installed command, a subprocess in a throwaway home (SQLite). A hundred tasks fall
due at once and run ``sleep``; once all hundred are running, the daemon's RSS (``VmRSS`` of
/proc/<pid>/status) is sampled for a while and the largest sample is the figure (DESIGN 8:
<= 80 MB; MB here is MiB). The daemon's first health check (10 s after its start) belongs to a
settled runner: the full run waits for it, the quick run does not.

The floor: an interpreter that has imported what any command on the database must (SQLAlchemy and
the SQLite driver) and sleeps.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure
from bench.runner_home import bench_home, bench_settings, open_bench_store, register, trivial_tasks
from sqlalchemy import func, select

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.schema import executions

RUNNING = 100
TASKS = 1000
TARGET_MB = 80.0
GROWTH = (100, 1000, 10000)
FLOOR_CODE = "import sqlalchemy, sqlite3, time; print('ready', flush=True); time.sleep(60)"
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Memory:
    tasks: int
    rss_mb: float  # largest sample while settled
    peak_mb: float  # VmHWM: the largest the process ever was
    floor_mb: float


def rss_of(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / MiB
    return fields["VmRSS"], fields["VmHWM"]


def running_with_pid(store: Store) -> int:
    query = select(func.count()).where(
        executions.c.status == ExecutionStatus.RUNNING.value, executions.c.pid.is_not(None)
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def smartcron_command() -> list[str]:
    script = Path(sys.executable).with_name("smartcron")
    return [str(script)] if script.exists() else [sys.executable, "-m", "smartcron"]


def floor_mb() -> float:
    sleeper = subprocess.Popen([sys.executable, "-c", FLOOR_CODE], stdout=subprocess.PIPE, text=True)
    try:
        assert sleeper.stdout is not None
        sleeper.stdout.readline()
        return rss_of(sleeper.pid)[0]
    finally:
        sleeper.kill()
        sleeper.wait()


def measure(tasks: int, settle: float) -> Memory:
    with bench_home("rss") as home:
        settings = bench_settings(home)
        store = open_bench_store(settings)
        try:
            now = datetime.now(UTC)
            sleepers = [TaskSpec(name=f"sleeper{i:04d}", command=("sleep", "120"), schedule="0 0 1 1 *", retries=0)
                        for i in range(min(RUNNING, tasks))]  # fmt: skip
            register(store, sleepers, next_run_at=now)
            idle = trivial_tasks(max(0, tasks - RUNNING), prefix="idle")
            register(store, idle, next_run_at=now + timedelta(days=300))
            env = {**os.environ, "SMARTCRON_HOME": str(home), "SMARTCRON_RUNNER_SHUTDOWN_GRACE": "0"}
            env.pop("SMARTCRON_CONFIG", None)
            env.pop("SMARTCRON_DATABASE_URL", None)
            daemon = subprocess.Popen([*smartcron_command(), "run", "--quiet"], env=env, stdin=subprocess.DEVNULL)
            try:
                started = time.monotonic()
                while running_with_pid(store) < len(sleepers):
                    if daemon.poll() is not None or time.monotonic() - started > 60:
                        raise RuntimeError("the daemon did not start the sleepers")
                    time.sleep(0.1)
                samples = []
                until = max(time.monotonic() + 1.0, started + settle)
                while time.monotonic() < until:
                    samples.append(rss_of(daemon.pid))
                    time.sleep(0.2)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=60)
        finally:
            store.close()
    return Memory(tasks, max(rss for rss, _ in samples), max(peak for _, peak in samples), floor_mb())


def figures(quick: bool) -> list[Figure]:
    settle = 3.0 if quick else 13.0
    memory = measure(TASKS, settle)
    note = (f"{RUNNING} running, {TASKS} registered; peak (VmHWM) {memory.peak_mb:.1f} MB; "
            f"{'before' if quick else 'after'} the first health check")  # fmt: skip
    result = [Figure("runner.rss_mb", memory.rss_mb, "MB", TARGET_MB, floor=memory.floor_mb, note=note)]
    if not quick:
        for count in GROWTH:
            grown = memory if count == TASKS else measure(count, settle)
            result.append(
                Figure(f"runner.rss_mb@{count}", grown.rss_mb, "MB", None, floor=grown.floor_mb,
                       note=f"{min(RUNNING, count)} running, {count} registered")
            )  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--settle", type=float, default=13.0, help="seconds after the start to keep sampling")
    arguments = parser.parse_args()
    memory = measure(arguments.tasks, arguments.settle)
    print(f"smartcron run: {min(RUNNING, memory.tasks)} running, {memory.tasks} registered")
    print(f"RSS {memory.rss_mb:.1f} MB (target <= {TARGET_MB:.0f}), peak {memory.peak_mb:.1f} MB, "
          f"floor {memory.floor_mb:.1f} MB (python -c 'import sqlalchemy, sqlite3')")  # fmt: skip


if __name__ == "__main__":
    main()
