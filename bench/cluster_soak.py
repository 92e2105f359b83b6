"""A cluster soak: three runners on one database, one of them ``kill -9``-ed and restarted on a beat.

    .venv/bin/python bench/cluster_soak.py                          # PostgreSQL and MariaDB, 5 minutes each
    .venv/bin/python bench/cluster_soak.py --seconds 60 --database postgresql

200 tasks run every second (``true``, 6-field schedules), and 12 tasks that take 3 s run every
5 s, at staggered seconds (so that runs are in flight when a node dies), on three real ``smartcron run`` processes,
each with its own home and node name, sharing one fresh database. Every ``--churn`` seconds one
runner (in turn) is killed with SIGKILL to its process group and started again at once. Then the
history is read back:

* **duplicates**: slots with more than one successful run (must be 0: DESIGN 3.1);
* **lost slots**: slots of the every-second tasks with no row at all, beyond the failover window
  after each kill (must be 0); slots recorded ``missed`` or ``skipped`` are explained, not lost,
  and are counted apart;
* **failover**: for each run in flight on a killed node (mostly the 3 s tasks; the node, started
  again at once, adopts those still running, or a survivor supersedes them once their lease has
  run out), the time from the kill to the next successful run of the task that started after the
  kill, on any node, p50 and p99 (DESIGN 9: at most 10 s);
* **lateness p99 under churn**: start minus slot of every successful scheduled run.

The floor beside the failover figure is the same percentile of the time from each kill to the
task's next slot (no run of it can start sooner); beside the lateness, the p99 of the same machine
starting ``true`` with plain ``subprocess`` while the soak runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, percentile
from bench.runner_home import bench_home, register, trivial_tasks
from sqlalchemy import create_engine, select, text

from smartcron.store import Store, open_store
from smartcron.store.schema import executions as executions_table

NODES = 3
TASKS = 200
LONG_TASKS = 12
LONG_COMMAND = ("sleep", "3")
LONG_EVERY_SECONDS = 5
"""The long tasks start at second i % 5 of each 5 (so at any moment about three in five of them run)."""
SECONDS = {True: 45, False: 300}
CHURN = {True: 15, False: 60}
LEASE_SECONDS = 5.0
HEARTBEAT_SECONDS = 1.0
FAILOVER_WINDOW = timedelta(seconds=LEASE_SECONDS + 3 * HEARTBEAT_SECONDS)
"""Slots of a killed node's tasks this soon after the kill may be lost with it (claimed, not begun)."""
WARM_UP = timedelta(seconds=10)

ADMIN_URLS = {
    "postgresql": os.environ.get("SMARTCRON_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("SMARTCRON_BENCH_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


@dataclass(frozen=True, slots=True)
class Kill:
    node: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SoakResult:
    database: str
    runs: int
    duplicates: int
    lost: int
    explained: int
    failovers: list[float]
    next_slots: list[float]
    """For each failover, the seconds from the kill to the task's next slot: its floor."""
    lateness_ms: list[float]
    floor_lateness_ms: list[float]
    kills: int


def fresh_database(database: str) -> tuple[str, str]:
    name = f"smartcron_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URLS[database], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if database == "postgresql":
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    admin.dispose()
    return f"{ADMIN_URLS[database].rsplit('/', 1)[0]}/{name}", name


def drop_database(database: str, name: str) -> None:
    admin = create_engine(ADMIN_URLS[database], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if database == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


class Runner:
    def __init__(self, home: Path, node: str, url: str) -> None:
        self.home = home / node
        self.node = node
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "SMARTCRON_HOME": str(self.home),
            "SMARTCRON_NODE": node,
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_TIMEZONE": "UTC",
            "SMARTCRON_RUNNER_LEASE_SECONDS": str(LEASE_SECONDS),
            "SMARTCRON_RUNNER_HEARTBEAT_INTERVAL": str(HEARTBEAT_SECONDS),
            "SMARTCRON_RUNNER_SHUTDOWN_GRACE": "5",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "runner.out", "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "smartcron", "run", "-q"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spawn_lateness_ms(count: int = 50) -> list[float]:
    """How late plain ``subprocess`` starts ``true`` on this machine now (the floor)."""
    late = []
    for _ in range(count):
        before = time.perf_counter()
        child = subprocess.Popen(["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        late.append((time.perf_counter() - before) * 1000)
        child.wait()
        time.sleep(0.02)
    return late


def long_schedule(i: int) -> str:
    return f"{i % LONG_EVERY_SECONDS}-59/{LONG_EVERY_SECONDS} * * * * *"


def task_ids(store: Store, names: set[str], *, by_name: bool = False) -> Any:
    """The ids of the tasks ``names`` (a set), or with ``by_name`` a mapping of name to id."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name FROM smart_cron_tasks_config")).all()
    found = {str(name): int(task_id) for task_id, name in rows if name in names}
    return found if by_name else set(found.values())


def soak(database: str, seconds: int, churn: int, *, tasks: int = TASKS) -> SoakResult:
    url, name = fresh_database(database)
    try:
        with bench_home("soak") as home:
            store = open_store(url)
            store.upgrade()
            every_second = trivial_tasks(tasks, prefix="soak", schedule="* * * * * *")
            long = [
                dataclasses.replace(spec, name=f"soak_long{i:02d}", command=LONG_COMMAND, schedule=long_schedule(i))
                for i, spec in enumerate(trivial_tasks(LONG_TASKS, prefix="soak_long"))
            ]
            register(store, every_second + long, next_run_at=datetime.now(UTC))
            watched = task_ids(store, {spec.name for spec in every_second})
            long_ids = task_ids(store, {spec.name for spec in long}, by_name=True)
            long_offsets = {task_id: int(name[-2:]) % LONG_EVERY_SECONDS for name, task_id in long_ids.items()}
            runners = [Runner(home, f"node{i}", url) for i in range(1, NODES + 1)]
            for runner in runners:
                runner.start()
            began = datetime.now(UTC)
            kills: list[Kill] = []
            floor: list[float] = []
            try:
                victim = 0
                while (datetime.now(UTC) - began).total_seconds() < seconds:
                    time.sleep(churn)
                    if (datetime.now(UTC) - began).total_seconds() >= seconds:
                        break
                    runner = runners[victim % NODES]
                    kills.append(Kill(runner.node, datetime.now(UTC)))
                    runner.kill9()
                    runner.start()
                    victim += 1
                    floor += spawn_lateness_ms(20)
                ended = datetime.now(UTC)
            finally:
                for runner in runners:
                    runner.stop()
            return measure(store, database, began, ended, kills, floor, watched, long_offsets)
    finally:
        drop_database(database, name)


def measure(
    store: Store,
    database: str,
    began: datetime,
    ended: datetime,
    kills: list[Kill],
    floor: list[float],
    every_second: set[int],
    long_offsets: dict[int, int],
) -> SoakResult:
    """``every_second``: the ids of the tasks due each second, whose every slot must have a row;
    ``long_offsets``: the second (of each 5) at which each long task starts, by task id."""
    with store.engine.connect() as conn:
        e = executions_table
        rows = conn.execute(
            select(e.c.task_id, e.c.scheduled_for, e.c.status, e.c.node, e.c.started_at, e.c.trigger, e.c.finished_at)
        ).all()
    from smartcron.store.types import from_millis

    def when(value: object) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_millis(value)
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    by_slot: dict[tuple[int, datetime], list[tuple[str, str | None]]] = defaultdict(list)
    successes: dict[int, list[datetime]] = defaultdict(list)
    lateness = []
    in_flight = []
    for task_id, slot_value, status, node, started_value, trigger, finished_value in rows:
        slot = when(slot_value)
        assert slot is not None
        by_slot[(task_id, slot)].append((status, node))
        started = when(started_value)
        if status == "success" and started is not None:
            successes[task_id].append(started)
            if trigger == "schedule":
                lateness.append((started - slot).total_seconds() * 1000)
        if started is not None:
            in_flight.append((task_id, node, started, when(finished_value)))
    duplicates = sum(1 for runs in by_slot.values() if sum(status == "success" for status, _ in runs) > 1)

    task_ids = sorted(every_second)
    first = began + WARM_UP
    last = ended - timedelta(seconds=3)
    lost = explained = 0
    for task_id in task_ids:
        slot = first.replace(microsecond=0) + timedelta(seconds=1)
        while slot < last:
            runs = by_slot.get((task_id, slot))
            if runs is None:
                if not any(
                    kill.at <= slot + timedelta(seconds=1) and slot <= kill.at + FAILOVER_WINDOW for kill in kills
                ):
                    lost += 1
            elif runs is not None and all(status in ("missed", "skipped", "superseded") for status, _ in runs):
                explained += 1
            slot += timedelta(seconds=1)

    failovers, next_slots = [], []
    for kill in kills:
        for task_id, node, started, finished in in_flight:
            if node != kill.node or started > kill.at or (finished is not None and finished <= kill.at):
                continue
            after = [moment for moment in successes[task_id] if moment > kill.at]
            if after and (min(after) - kill.at) < timedelta(minutes=1):
                failovers.append((min(after) - kill.at).total_seconds())
                every, offset = (1, 0) if task_id in every_second else (LONG_EVERY_SECONDS, long_offsets[task_id])
                next_slots.append(every - (kill.at.timestamp() - offset) % every)
    return SoakResult(
        database, len(rows), duplicates, lost, explained, failovers, next_slots, lateness, floor, len(kills)
    )


def figures_of(result: SoakResult) -> list[Figure]:
    db = result.database
    note = f"{result.runs} rows, {result.kills} kills, {result.explained} slots missed or skipped"
    failover = result.failovers or [float("nan")]
    next_slot = result.next_slots or [float("nan")]
    return [
        Figure(f"cluster.{db}.duplicate_slots", result.duplicates, "slots", 0, note=note),
        Figure(f"cluster.{db}.lost_slots", result.lost, "slots", 0, note="beyond the failover window after each kill"),
        Figure(f"cluster.{db}.failover_p50_s", percentile(failover, 0.5), "s", 10.0,
               floor=percentile(next_slot, 0.5),
               note=f"{len(result.failovers)} runs in flight on a killed node"),
        Figure(f"cluster.{db}.failover_p99_s", percentile(failover, 0.99), "s", 10.0,
               floor=percentile(next_slot, 0.99)),
        Figure(f"cluster.{db}.lateness_p99_ms", percentile(result.lateness_ms or [float("nan")], 0.99), "ms", None,
               floor=percentile(result.floor_lateness_ms or [float("nan")], 0.99),
               note="start minus slot under churn; floor: plain subprocess start meanwhile"),
    ]  # fmt: skip


def figures(quick: bool) -> list[Figure]:
    found: list[Figure] = []
    for database in ("postgresql", "mariadb"):
        try:
            result = soak(database, SECONDS[quick], CHURN[quick])
        except Exception as exc:  # a server that is not there: its figures say so
            found.append(Figure(f"cluster.{database}.duplicate_slots", float("nan"), "slots", 0, note=str(exc)[:200]))
            continue
        found += figures_of(result)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=SECONDS[False])
    parser.add_argument("--churn", type=int, default=CHURN[False])
    parser.add_argument("--database", choices=("postgresql", "mariadb"), action="append")
    parser.add_argument("--tasks", type=int, default=TASKS, help="tasks due every second (default %(default)s)")
    options = parser.parse_args()
    for database in options.database or ("postgresql", "mariadb"):
        result = soak(database, options.seconds, options.churn, tasks=options.tasks)
        for figure in figures_of(result):
            floor = f"  (floor {figure.floor:g})" if figure.floor is not None else ""
            print(f"{figure.name:40} {figure.value:10.2f} {figure.unit}{floor}  {figure.note}")


if __name__ == "__main__":
    main()
