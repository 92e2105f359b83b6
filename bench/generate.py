"""Fill a database with a realistic history for the dashboard benchmark.

    .venv/bin/python bench/generate.py sqlite:////tmp/bench.db           # 1,000 tasks, 1,000,000 runs
    .venv/bin/python bench/generate.py postgresql+psycopg://postgres@127.0.0.1/bench --executions 200000

The database is created (schema upgraded) if needed and must hold no tasks. Tasks run at different
rates (a few every few minutes, most hourly or daily), 90 days back from now; about 95 % of runs
succeed, the rest fail, time out, are skipped or missed. Each finished row carries a 200-byte
output preview. Rows go in with the driver's executemany in batches, one transaction per batch.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from smartcron.domain.task import TaskSpec
from smartcron.store import Store, open_store
from smartcron.store.schema import alerts, audit_log, executions, health_checks, metrics, tasks
from smartcron.store.tasks import spec_to_row

CATEGORIES = ("vend", "payroll", "bank", "consignments", "staff", "system", "monitoring", "flagged_products")
STATUSES = (("success", 0.95), ("failed", 0.03), ("timeout", 0.01), ("skipped", 0.005), ("missed", 0.005))
PREVIEW = ("synced 1234 products from vend; 0 errors; batch ok " * 8)[:200]
DAYS = 90


def _task_rows(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
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


def _execution_rows(task_id: int, runs: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    span = DAYS * 86400.0
    interval = span / runs
    start = now - timedelta(seconds=span)
    rows = []
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
        rows.append(row)
    return rows


def _side_tables(store: Store, task_ids: list[int], now: datetime, rng: random.Random) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(alerts),
            [
                {
                    "kind": "task_failed",
                    "task_id": task_ids[i],
                    "open_key": f"task_failed:{task_ids[i]}" if i < 20 else None,
                    "severity": ("critical", "high", "low")[i % 3],
                    "state": "open" if i < 20 else "resolved",
                    "message": f"task failed {i}",
                    "count": 1 + i % 4,
                    "first_seen": now - timedelta(hours=i),
                    "last_seen": now - timedelta(minutes=i),
                    "resolved_at": None if i < 20 else now - timedelta(minutes=i),
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


def generate(url: str, *, task_count: int, execution_count: int, batch: int, seed: int) -> None:
    rng = random.Random(seed)
    store = open_store(url)
    store.upgrade()
    if store.tasks.count():
        sys.exit(f"{store.url} already holds tasks; use an empty database")
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(insert(tasks), _task_rows(task_count, now, rng))
    task_ids = [t.id for t in store.tasks.list()]
    counts = _runs_per_task(task_count, execution_count, rng)
    pending: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    written = 0
    for task_id, runs in zip(task_ids, counts, strict=True):
        rows = _execution_rows(task_id, runs, now, rng)
        last = rows[-1]
        summaries.append(
            {
                "b_id": task_id,
                "b_status": last["status"],
                "b_started": last["started_at"],
                "b_finished": last["finished_at"],
                "b_duration": last["duration_ms"],
            }
        )
        pending.extend(rows)
        while len(pending) >= batch:
            chunk, pending = pending[:batch], pending[batch:]
            with store.engine.begin() as conn:
                conn.execute(insert(executions), chunk)
            written += len(chunk)
            print(f"\r{written:>9,} executions", end="", file=sys.stderr)
    if pending:
        with store.engine.begin() as conn:
            conn.execute(insert(executions), pending)
        written += len(pending)
    from sqlalchemy import bindparam

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
    store.close()
    took = time.perf_counter() - started
    print(
        f"\r{task_count:,} tasks, {written:,} executions in {took:.0f} s ({written / took:,.0f} rows/s)",
        file=sys.stderr,
    )


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
