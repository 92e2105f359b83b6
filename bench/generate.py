"""Fill a database with a realistic history for the dashboard benchmark, or reuse a cached one.

    .venv/bin/python bench/generate.py sqlite:////tmp/bench.db           # 1,000 tasks, 1,000,000 runs
    .venv/bin/python bench/generate.py postgresql+psycopg://postgres@127.0.0.1/bench --executions 200000

The database is created (schema upgraded) if needed and must hold no tasks. Tasks run at different
rates (a few every few minutes, most hourly or daily), 90 days back from now; about 95 % of runs
succeed, the rest fail, time out, are skipped or missed. Each finished row carries a 200-byte
output preview. Rows are inserted in time order across all tasks, as a runner inserts them (so a
time range is a run of neighbouring rows and one task's history is spread over the table, as in
production), with the driver's executemany in batches, one transaction per batch.

``bench/run`` keeps generated databases in ``bench/.cache`` (SQLite files) and in PostgreSQL
databases named after the generator version and size (:func:`cached_sqlite`,
:func:`cached_postgresql`); bump ``VERSION`` whenever what is generated changes.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

from smartcron.domain.task import TaskSpec
from smartcron.store import Store, open_store
from smartcron.store.schema import alerts, audit_log, executions, health_checks, metrics, settings_kv, tasks
from smartcron.store.tasks import spec_to_row

VERSION = 2
"""1: rows inserted task after task. 2: rows inserted in time order across tasks; generation time kept."""
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
GENERATED_AT_KEY = "bench.generated_at"
CATEGORIES = ("vend", "payroll", "bank", "consignments", "staff", "system", "monitoring", "flagged_products")
STATUSES = (("success", 0.95), ("failed", 0.03), ("timeout", 0.01), ("skipped", 0.005), ("missed", 0.005))
PREVIEW = ("synced 1234 products from vend; 0 errors; batch ok " * 8)[:200]
DAYS = 90


def _task_rows(count: int, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        category = CATEGORIES[i % len(CATEGORIES)]
        spec = TaskSpec(
            name=f"{category}_job_{i:04d}",
            category=category,
            description=f"benchmark task {i}",
            command=("php", f"/var/www/jobs/{category}/job_{i}.php"),
            schedule=f"{i % 60} * * * *",
            priority=1 + i % 3,
        )
        rows.append(
            spec_to_row(spec)
            | {"created_at": now - timedelta(days=DAYS + 1), "updated_at": now, "next_run_at": now + timedelta(hours=1)}
        )
    return rows


def _runs_per_task(task_count: int, total: int, rng: random.Random) -> list[int]:
    # Skewed rates: weights from a long-tailed distribution, scaled to the exact total.
    weights = [rng.paretovariate(1.5) for _ in range(task_count)]
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    counts[-1] += total - sum(counts)
    while counts[-1] < 1:  # rounding pushed the last one below one: take from the largest
        largest = counts.index(max(counts))
        counts[largest] -= 1
        counts[-1] += 1
    return counts


def _pick_status(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in STATUSES:
        if roll < share:
            return status
        roll -= share
    return "success"


def _execution_rows(task_id: int, runs: int, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    """One task's runs, oldest first."""
    span = DAYS * 86400.0
    interval = span / runs
    start = now - timedelta(seconds=span)
    for n in range(runs):
        slot = start + timedelta(seconds=n * interval)
        slot = slot.replace(microsecond=(slot.microsecond // 1000) * 1000)
        status = _pick_status(rng)
        row: dict[str, Any] = {
            "task_id": task_id,
            "scheduled_for": slot,
            "attempt": 0,
            "trigger": "schedule",
            "status": status,
            "reason": "overlap" if status == "skipped" else None,
            "exit_code": None,
            "error_category": None,
            "started_at": None,
            "finished_at": slot,
            "duration_ms": None,
            "cpu_user_ms": None,
            "cpu_sys_ms": None,
            "max_rss_kb": None,
            "output": None,
            "output_bytes": None,
            "node": "bench-node",
        }
        if status not in ("skipped", "missed"):
            duration = min(int(rng.lognormvariate(7.5, 1.2)), 300_000)
            started = slot + timedelta(milliseconds=rng.randint(1, 20))
            row |= {
                "exit_code": {"success": 0, "failed": 1, "timeout": None}[status],
                "error_category": None if status == "success" else "recoverable",
                "started_at": started,
                "finished_at": started + timedelta(milliseconds=duration),
                "duration_ms": duration,
                "cpu_user_ms": duration // 3,
                "cpu_sys_ms": duration // 20,
                "max_rss_kb": rng.randint(20_000, 400_000),
                "output": PREVIEW,
                "output_bytes": rng.randint(200, 50_000),
            }
        yield row


def _side_tables(store: Store, task_ids: list[int], now: datetime, rng: random.Random) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(alerts),
            [
                {
                    "kind": "task_failed",
                    "task_id": task_ids[i % len(task_ids)],
                    "open_key": f"task_failed:{task_ids[i]}" if i < min(20, len(task_ids)) else None,
                    "severity": ("critical", "high", "low")[i % 3],
                    "state": "open" if i < min(20, len(task_ids)) else "resolved",
                    "message": f"task failed {i}",
                    "count": 1 + i % 4,
                    "first_seen": now - timedelta(hours=i),
                    "last_seen": now - timedelta(minutes=i),
                    "resolved_at": None if i < min(20, len(task_ids)) else now - timedelta(minutes=i),
                }
                for i in range(500)
            ],
        )
        checks = ("database", "disk_data", "disk_logs", "memory", "cpu", "load", "runner_heartbeat")
        conn.execute(
            insert(health_checks),
            [
                {
                    "at": now - timedelta(minutes=5 * k),
                    "check_name": c,
                    "status": "ok",
                    "value": rng.random() * 100,
                    "message": f"{c} fine",
                    "node": "bench-node",
                }
                for k in range(30 * 288)  # every 5 minutes, 30 days kept
                for c in checks
            ],
        )
        names = ("cpu_percent", "memory_percent", "disk_percent", "load_1m")
        conn.execute(
            insert(metrics),
            [
                {"name": name, "at": now - timedelta(minutes=5 * k), "value": rng.random() * 100, "node": "bench-node"}
                for k in range(DAYS * 288)
                for name in names
            ],
        )
        conn.execute(
            insert(audit_log),
            [
                {"at": now - timedelta(minutes=k), "actor": "admin", "action": "task.pause", "target": f"job {k}"}
                for k in range(2000)
            ],
        )
        conn.execute(insert(settings_kv).values(key=GENERATED_AT_KEY, value=now.isoformat(), updated_at=now))


def _insert_in_batches(store: Store, rows: Iterator[dict[str, Any]], batch: int, *, quiet: bool) -> int:
    written = 0
    while True:
        chunk = [row for _, row in zip(range(batch), rows, strict=False)]
        if not chunk:
            return written
        with store.engine.begin() as conn:
            conn.execute(insert(executions), chunk)
        written += len(chunk)
        if not quiet:
            print(f"\r{written:>9,} executions", end="", file=sys.stderr)


def _analyze(store: Store) -> None:
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    elif store.dialect == "sqlite":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with store.engine.connect() as conn:
            for table in (tasks, executions):
                conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")


def generate(url: str, *, task_count: int, execution_count: int, batch: int, seed: int, quiet: bool = False) -> None:
    rng = random.Random(seed)
    store = open_store(url)
    store.upgrade()
    if store.tasks.count():
        sys.exit(f"{store.url} already holds tasks; use an empty database")
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(insert(tasks), _task_rows(task_count, now))
    task_ids = [t.id for t in store.tasks.list()]
    counts = _runs_per_task(task_count, execution_count, rng)
    newest: dict[int, dict[str, Any]] = {}  # each task's last run, for its last-run summary

    def remembering_newest(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            newest[row["task_id"]] = row
            yield row

    histories = [
        remembering_newest(_execution_rows(i, runs, now, rng)) for i, runs in zip(task_ids, counts, strict=True)
    ]
    in_time_order = heapq.merge(*histories, key=lambda row: (row["scheduled_for"], row["task_id"]))
    written = _insert_in_batches(store, in_time_order, batch, quiet=quiet)
    summaries = [
        {
            "b_id": task_id,
            "b_status": row["status"],
            "b_started": row["started_at"],
            "b_finished": row["finished_at"],
            "b_duration": row["duration_ms"],
        }
        for task_id, row in newest.items()
    ]
    with store.engine.begin() as conn:
        conn.execute(
            update(tasks)
            .where(tasks.c.id == bindparam("b_id"))
            .values(
                last_status=bindparam("b_status"),
                last_started_at=bindparam("b_started"),
                last_finished_at=bindparam("b_finished"),
                last_duration_ms=bindparam("b_duration"),
                last_success_at=bindparam("b_finished"),
            ),
            summaries,
        )
    _side_tables(store, task_ids, now, rng)
    _analyze(store)
    store.close()
    took = time.perf_counter() - started
    if not quiet:
        print(
            f"\r{task_count:,} tasks, {written:,} executions in {took:.0f} s ({written / took:,.0f} rows/s)",
            file=sys.stderr,
        )


def generated_at(store: Store) -> datetime:
    """The instant the history was generated around (its "now")."""
    with store.engine.connect() as conn:
        value = conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == GENERATED_AT_KEY)).scalar_one()
    return datetime.fromisoformat(str(value))


def cache_name(task_count: int, execution_count: int) -> str:
    return f"dashboard_v{VERSION}_{task_count}t_{execution_count}e"


def cached_sqlite(task_count: int, execution_count: int, *, quiet: bool = True) -> Path:
    """A generated SQLite database file, made once per generator version and size.

    Written under a temporary name and renamed when complete, so an interrupted run leaves no file
    that looks finished."""
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"{cache_name(task_count, execution_count)}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    for leftover in CACHE_DIR.glob(partial.name + "*"):
        leftover.unlink()
    generate(f"sqlite:///{partial}", task_count=task_count, execution_count=execution_count, batch=20_000, seed=6,
             quiet=quiet)  # fmt: skip
    with sqlite3.connect(partial) as conn:  # fold the write-ahead log in: the file alone is the database
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    partial.rename(path)
    return path


def cached_postgresql(server_url: str, task_count: int, execution_count: int, *, quiet: bool = True) -> str:
    """The name of a generated PostgreSQL database on ``server_url``, made once per version and size.

    Generated under a temporary name and renamed when complete. Measure a copy (``CREATE DATABASE
    ... TEMPLATE``), never the cached database itself."""
    name = f"smartcron_bench_{cache_name(task_count, execution_count)}"
    partial = f"{name}_partial"
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return name
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{partial}"')
        generate(
            str(make_url(server_url).set(database=partial)),
            task_count=task_count,
            execution_count=execution_count,
            batch=20_000,
            seed=6,
            quiet=quiet,
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
    finally:
        admin.dispose()
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="database URL, or a path for SQLite")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    url = args.url if "://" in args.url else f"sqlite:///{args.url}"
    generate(url, task_count=args.tasks, execution_count=args.executions, batch=args.batch, seed=args.seed)


if __name__ == "__main__":
    main()
