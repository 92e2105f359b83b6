"""p50 and p95 of every dashboard page and API call against a generated history (DESIGN 8:
p95 <= 100 ms with 1,000,000 executions on SQLite).

    .venv/bin/python bench/dashboard.py                         # SQLite, 1,000,000 runs (cached)
    .venv/bin/python bench/dashboard.py --database postgresql --executions 200000 --rounds 20
    .venv/bin/python bench/dashboard.py --url sqlite:////tmp/mine.db   # a database you filled

The history comes from ``bench/generate.py`` and is cached (``bench/.cache``, or a PostgreSQL
database named after the generator version); each measurement runs on a fresh copy of it, since it
adds a user and a token, queues runs, pauses a task and acknowledges an alert. The application's
clock is set back to the moment the history was generated, so "the last 24 hours" always holds the
same runs however old the cache is.

Requests go through the whole application in process (routing, auth, queries, templates, JSON)
with an API token; only the network is left out. Calls are measured in rounds, every call once per
round, so a burst of load from elsewhere on the machine touches one sample of each call rather
than every sample of one. The floor of a read call is its own SQL: the statements one request
sent, replayed on a bare driver connection (median of a few replays).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import generate
from bench.common import Figure, percentile
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine, make_url

from smartcron.clock import SystemClock
from smartcron.config import load_settings
from smartcron.domain.enums import Role
from smartcron.store import Store, open_store
from smartcron.store.schema import alerts, executions, tasks
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app

TARGET_P95_MS = 100.0
POSTGRESQL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKGROUND_THREADS = ("scorecard",)  # the dashboard's own refresh threads: not part of a request
CALLS: tuple[tuple[str, str, str], ...] = (
    ("grid", "GET", "/"),
    ("grid_page_6", "GET", "/?offset=500"),
    ("grid_category", "GET", "/?category=vend"),
    ("grid_search", "GET", "/?q=job_09"),
    ("grid_partial", "GET", "/partials/grid"),
    ("runs", "GET", "/executions"),
    ("runs_partial", "GET", "/partials/executions"),
    ("runs_of_task", "GET", "/executions?task={task}"),
    ("runs_failed", "GET", "/executions?status=failed"),
    ("run", "GET", "/executions/{run}"),
    ("run_log_partial", "GET", "/partials/executions/{run}/log"),
    ("task", "GET", "/tasks/{task}"),
    ("task_partial", "GET", "/partials/tasks/{task}"),
    ("health", "GET", "/health"),
    ("health_partial", "GET", "/partials/health"),
    ("alerts", "GET", "/alerts"),
    ("alerts_partial", "GET", "/partials/alerts"),
    ("charts", "GET", "/charts"),
    ("audit", "GET", "/audit"),
    ("users", "GET", "/users"),
    ("api_tasks", "GET", "/api/v1/tasks"),
    ("api_tasks_200", "GET", "/api/v1/tasks?limit=200"),
    ("api_task", "GET", "/api/v1/tasks/{task}"),
    ("api_runs", "GET", "/api/v1/executions"),
    ("api_runs_of_task", "GET", "/api/v1/executions?task={task}"),
    ("api_runs_timeout", "GET", "/api/v1/executions?status=timeout"),
    ("api_runs_before", "GET", "/api/v1/executions?before={middle_run}"),
    ("api_run", "GET", "/api/v1/executions/{run}"),
    ("api_run_log", "GET", "/api/v1/executions/{run}/log"),
    ("api_alerts", "GET", "/api/v1/alerts"),
    ("api_alerts_active", "GET", "/api/v1/alerts?active=true"),
    ("api_health", "GET", "/api/v1/health"),
    ("api_metric", "GET", "/api/v1/metrics/cpu_percent"),
    ("api_metric_30d", "GET", "/api/v1/metrics/cpu_percent?hours=720&step=3600"),
    ("api_activity", "GET", "/api/v1/stats/activity"),
    ("api_activity_7d", "GET", "/api/v1/stats/activity?hours=168&bucket=3600"),
    ("metrics", "GET", "/metrics"),
    ("healthz", "GET", "/healthz"),
    ("api_openapi", "GET", "/api/openapi.json"),
    ("api_run_now", "POST", "/api/v1/tasks/{task}/run"),
    ("api_pause", "POST", "/api/v1/tasks/{task}/pause"),
    ("api_resume", "POST", "/api/v1/tasks/{task}/resume"),
    ("api_alert_ack", "POST", "/api/v1/alerts/{alert}/ack"),
)


@dataclass(frozen=True, slots=True)
class Effort:
    rounds: int  # measured requests per call
    warmup: int  # requests per call before those
    floor_replays: int  # replays of a call's SQL; the floor is their median


QUICK = Effort(rounds=4, warmup=1, floor_replays=1)
FULL = Effort(rounds=60, warmup=3, floor_replays=5)


class ShiftedClock(SystemClock):
    """The system clock, set back by a fixed offset (to the instant a cached history was made)."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return super().now() - self._offset


@dataclass(frozen=True, slots=True)
class CallTiming:
    method: str
    path: str
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_ms: float  # the very first request (caches empty)
    sql_floor_ms: float | None

    def p95_figure(self, name: str, target: float | None, note: str) -> Figure:
        """This call's p95 as a figure, its SQL alone as the floor."""
        floor = None if self.sql_floor_ms is None else round(self.sql_floor_ms, 2)
        return Figure(name, round(self.p95_ms, 1), "ms", target, floor=floor, note=note)


@dataclass(frozen=True, slots=True)
class Measurement:
    dialect: str
    executions: int
    busiest_task: str
    busiest_runs: int
    rounds: int
    calls: dict[str, CallTiming]
    load: tuple[float, float]  # the machine's 1-minute load average before and after

    @property
    def worst(self) -> tuple[str, CallTiming]:
        return max(self.calls.items(), key=lambda item: item[1].p95_ms)


class StatementRecorder:
    """The SQL a request sends (statement, parameters, executemany), for replaying as a floor."""

    def __init__(self, engine: Engine) -> None:
        self.recording = False
        self.statements: list[tuple[str, Any, bool]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if self.recording and threading.current_thread().name not in BACKGROUND_THREADS:
            self.statements.append((statement, parameters, executemany))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, Any, bool]]]:
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


def replay_ms(engine: Engine, statements: list[tuple[str, Any, bool]]) -> float:
    """Milliseconds the statements take on a bare driver connection, in a transaction rolled back."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")
        started = time.perf_counter()
        for statement, parameters, many in statements:
            if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
                continue
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters)
            if cursor.description is not None:
                cursor.fetchall()
        took = (time.perf_counter() - started) * 1000
        raw.rollback()
        return took
    finally:
        raw.close()


def _subjects(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        runs_per_task = select(executions.c.task_id, func.count()).group_by(executions.c.task_id)
        busiest_id, runs = conn.execute(runs_per_task.order_by(func.count().desc()).limit(1)).one()
        name = conn.execute(select(tasks.c.name).where(tasks.c.id == busiest_id)).scalar_one()
        newest = int(conn.execute(select(func.max(executions.c.id))).scalar_one())
        alert_id = conn.execute(select(func.max(alerts.c.id)).where(alerts.c.state == "open")).scalar_one()
    return {"task": name, "task_runs": int(runs), "run": newest, "middle_run": newest // 2, "alert": alert_id}


Call = tuple[str, str, str]  # label, method, path


def _time_rounds(client: TestClient, calls: list[Call], *, rounds: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per request; the first entry of each list is the very first request (warm-up)."""
    samples: dict[str, list[float]] = {label: [] for label, _, _ in calls}
    for _ in range(warmup + rounds):
        for label, method, path in calls:
            started = time.perf_counter()
            answer = client.request(method, path)
            samples[label].append((time.perf_counter() - started) * 1000)
            if answer.status_code >= 400:
                raise RuntimeError(f"{method} {path} answered {answer.status_code}: {answer.text[:200]}")
    return samples


def _sql_floors(client: TestClient, engine: Engine, calls: list[Call], replays: int) -> dict[str, float]:
    recorder = StatementRecorder(engine)
    floors = {}
    for label, method, path in calls:
        if method != "GET":
            continue  # writes cannot be replayed twice (unique keys); no floor for them
        with recorder.record() as statements:
            client.request(method, path)
        floors[label] = statistics.median(replay_ms(engine, statements) for _ in range(replays))
    return floors


def measure(url: str, effort: Effort, *, only: Collection[str] | None = None) -> Measurement:
    """Time every call (or the calls labelled in ``only``) against the database at ``url``."""
    home = Path(tempfile.mkdtemp(prefix="smartcron-bench-"))
    try:
        settings = load_settings(env={"SMARTCRON_HOME": str(home), "SMARTCRON_DATABASE_URL": url})
        store = open_store(settings)
        subjects = _subjects(store)
        load_before = os.getloadavg()[0]
        clock = ShiftedClock(datetime.now(UTC) - generate.generated_at(store))
        accounts = Accounts(store, actor="bench")
        token, _ = accounts.create_token(f"bench-{time.time_ns()}", role=Role.ADMIN, now=clock.now())
        calls = [(label, method, path.format(**subjects)) for label, method, path in CALLS if not only or label in only]
        application = create_app(settings, store, clock=clock)
        gc.freeze()  # as `smartcron web` does once the app exists
        with TestClient(application) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            samples = _time_rounds(client, calls, rounds=effort.rounds, warmup=effort.warmup)
            floors = _sql_floors(client, store.engine, calls, effort.floor_replays)
        dialect = store.dialect
        store.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    timings = {}
    for label, method, path in calls:
        measured = samples[label][effort.warmup :]
        timings[label] = CallTiming(
            method,
            path,
            p50_ms=statistics.median(measured),
            p95_ms=percentile(measured, 0.95),
            max_ms=max(measured),
            first_ms=samples[label][0],
            sql_floor_ms=floors.get(label),
        )
    load = (load_before, os.getloadavg()[0])
    return Measurement(dialect, subjects["run"], subjects["task"], subjects["task_runs"], effort.rounds, timings, load)


@contextmanager
def sqlite_copy(task_count: int, execution_count: int) -> Iterator[str]:
    cached = generate.cached_sqlite(task_count, execution_count)
    with tempfile.TemporaryDirectory(prefix="smartcron-dashboard-") as folder:
        copy = Path(folder) / "dashboard.db"
        shutil.copyfile(cached, copy)
        yield f"sqlite:///{copy}"


@contextmanager
def postgresql_copy(server: str, task_count: int, execution_count: int) -> Iterator[str]:
    cached = generate.cached_postgresql(server, task_count, execution_count)
    copy = f"{cached}_run"
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{copy}" TEMPLATE "{cached}"')
        yield str(make_url(server).set(database=copy))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        admin.dispose()


def postgresql_unreachable(server: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    engine = create_engine(server, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to connect means "skip", with its reason
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def to_figures(run: Measurement) -> list[Figure]:
    prefix = f"dashboard.{run.dialect}"
    worst_label, worst = run.worst
    out = [
        worst.p95_figure(
            f"{prefix}_p95_ms",
            TARGET_P95_MS,
            f"worst of {len(run.calls)} calls: {worst_label} ({worst.method} {worst.path}); "
            f"{run.executions:,} executions, {run.rounds} rounds, load average {run.load[0]:.1f} -> {run.load[1]:.1f} "
            f"on {os.cpu_count()} CPUs; floor: that call's SQL alone",
        )
    ]
    for label, timing in run.calls.items():
        note = f"{timing.method} {timing.path}; p50 {timing.p50_ms:.1f} ms"
        if label == "metrics":
            note += f"; first scrape after start {timing.first_ms:.0f} ms (aggregates all history once)"
        out.append(timing.p95_figure(f"{prefix}.{label}_p95_ms", TARGET_P95_MS, note))
    return out


def unmeasured(dialect: str, reason: str) -> Figure:
    return Figure(f"dashboard.{dialect}_p95_ms", float("nan"), "ms", TARGET_P95_MS, note=f"skipped: {reason}")


def figures(quick: bool) -> list[Figure]:
    executions = 20_000 if quick else 1_000_000
    effort = QUICK if quick else FULL
    with sqlite_copy(1000, executions) as url:
        out = to_figures(measure(url, effort))
    reason = postgresql_unreachable(POSTGRESQL_SERVER)
    if reason is not None:
        return [*out, unmeasured("postgresql", f"PostgreSQL unreachable at {POSTGRESQL_SERVER}: {reason}")]
    with postgresql_copy(POSTGRESQL_SERVER, 1000, executions) as url:
        out += to_figures(measure(url, effort))
    return out


def report(run: Measurement) -> None:
    width = max(len(timing.method) + len(timing.path) + 1 for timing in run.calls.values())
    print(f"{run.dialect}: {run.executions:,} executions; busiest task {run.busiest_task} ({run.busiest_runs:,} runs); "
          f"{run.rounds} measured rounds per call")  # fmt: skip
    print(f"{'call':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'SQL ms':>8}")
    for timing in run.calls.values():
        call = f"{timing.method} {timing.path}"
        floor = "-" if timing.sql_floor_ms is None else f"{timing.sql_floor_ms:.1f}"
        miss = "  > target" if timing.p95_ms > TARGET_P95_MS else ""
        print(f"{call:<{width}}  {timing.p50_ms:>8.1f}  {timing.p95_ms:>8.1f}  {floor:>8}{miss}")
    label, worst = run.worst
    print(f"worst p95: {worst.p95_ms:.1f} ms ({label}); target {TARGET_P95_MS:.0f} ms; "
          f"load average {run.load[0]:.1f} -> {run.load[1]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="measure this database as it is (filled by bench/generate.py) instead of a copy")
    parser.add_argument("--server", default=POSTGRESQL_SERVER, help="PostgreSQL server for --database postgresql")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    effort = Effort(rounds=args.rounds, warmup=args.warmup, floor_replays=5)
    if args.url:
        run = measure(args.url if "://" in args.url else f"sqlite:///{args.url}", effort)
    elif args.database == "sqlite":
        with sqlite_copy(args.tasks, args.executions) as url:
            run = measure(url, effort)
    else:
        with postgresql_copy(args.server, args.tasks, args.executions) as url:
            run = measure(url, effort)
    report(run)


if __name__ == "__main__":
    main()
