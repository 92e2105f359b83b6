"""Bytes per execution row on SQLite, indexes included (DESIGN 8: <= 350 B with a 200-byte preview).

    .venv/bin/python bench/rowsize.py                    # 100,000 runs of 100 tasks
    .venv/bin/python bench/rowsize.py --rows 20000 --tasks 10000

Rows are written the way the runner writes them, through the store: claim a slot, begin it, attach
the process, finish it with an outcome carrying a 200-byte output preview. Every run succeeds (a
failed run's row is the same size). Size comes from SQLite's ``dbstat`` table: the pages of the
executions table and of each of its indexes, before and after, divided by the number of rows.

The headline figure is measured after ``VACUUM`` (pages packed, what ``smartcron maintenance``
leaves); the pages as the runner leaves them (rows grow at finish, so pages split and stay part
empty) are reported beside it. Floors: the same rows in a bare table (``CREATE TABLE AS``: SQLite's
record format, no index) and the raw bytes of the values themselves (each integer in the fewest
bytes, text as UTF-8, NULL as nothing).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure
from sqlalchemy import insert

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store, open_store
from smartcron.store.executions import Finish, SlotClaim, Start
from smartcron.store.schema import executions, tasks
from smartcron.store.tasks import spec_to_row

TARGET_BYTES = 350.0
PREVIEW_BYTES = 200
NODE = "cron-host-01"  # a typical host name; the runner records its node on every row
START = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = executions.name


@dataclass(frozen=True, slots=True)
class RowSize:
    rows: int
    tasks: int
    per_object: dict[str, float]  # table or index name -> bytes per row, after VACUUM
    as_written: float  # table and indexes, before VACUUM
    bare_table: float
    raw_values: float

    @property
    def total(self) -> float:
        return sum(self.per_object.values())


def _preview(rng: random.Random) -> str:
    words = ("synced", "products", "from", "vend;", "0", "errors;", "batch", "ok", "12345", "rows")
    text = " ".join(rng.choice(words) for _ in range(60))
    return text[:PREVIEW_BYTES].ljust(PREVIEW_BYTES, ".")


def _write_runs(store: Store, task_ids: Sequence[int], rows: int, rng: random.Random) -> None:
    """``rows`` runs, one slot a minute for every task in turn, through claim/begin/attach/finish."""
    written = 0
    minute = 0
    while written < rows:
        slot = START + timedelta(minutes=minute)
        batch = task_ids[: rows - written]
        token = f"bench{minute:08d}"
        claims = [SlotClaim(task_id, slot, Trigger.SCHEDULE) for task_id in batch]
        won = store.executions.claim(claims, node=NODE, token=token, now=slot)
        started_at = slot + timedelta(milliseconds=3)
        ids = store.executions.begin(
            [run.id for run in won], node=NODE, token=token, now=started_at, lease_until=slot + timedelta(hours=1)
        )
        by_id = {run.id: run for run in won}
        pids = {run_id: rng.randint(1000, 4_000_000) for run_id in ids}
        store.executions.attach(
            [Start(i, by_id[i].task_id, started_at, pids[i], pids[i], rng.randint(10**6, 10**9)) for i in ids],
            token=token,
        )
        finishes = []
        for run_id in ids:
            duration = min(int(rng.lognormvariate(7.5, 1.2)), 300_000)
            outcome = Outcome(
                status=ExecutionStatus.SUCCESS,
                finished_at=started_at + timedelta(milliseconds=duration),
                exit_code=0,
                duration_ms=duration,
                cpu_user_ms=duration // 3,
                cpu_sys_ms=duration // 20,
                max_rss_kb=rng.randint(20_000, 400_000),
                output=_preview(rng),
                output_bytes=rng.randint(PREVIEW_BYTES, 50_000),
            )
            finishes.append(Finish(run_id, by_id[run_id].task_id, outcome))
        store.executions.finish(finishes, token=token)
        written += len(ids)
        minute += 1


def _pages_by_object(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, int]:
    marks = ",".join("?" * len(names))
    found = dict(conn.execute(f"SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ({marks}) GROUP BY name", names))
    return {name: int(found.get(name, 0)) for name in names}


def _raw_bytes(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return max(1, (value.bit_length() + 8) // 8)  # signed, fewest whole bytes
    if isinstance(value, float):
        return 8
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    raise TypeError(type(value))


def measure(rows: int, task_count: int, seed: int = 7) -> RowSize:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="smartcron-rowsize-") as folder:
        path = Path(folder) / "rows.db"
        store = open_store(f"sqlite:///{path}")
        store.upgrade()
        specs = [
            TaskSpec(name=f"job_{i:05d}", category="bench", command=("true",), schedule="* * * * *")
            for i in range(task_count)
        ]
        with store.engine.begin() as conn:  # one executemany: adding 10,000 one by one takes a while
            stamps = {"created_at": START, "updated_at": START}
            conn.execute(insert(tasks), [spec_to_row(spec) | stamps for spec in specs])
        task_ids = [task.id for task in store.tasks.list()]
        with sqlite3.connect(path) as conn:
            indexes = conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index'", (TABLE,))
            names = [TABLE, *(row[0] for row in indexes)]
            conn.execute("VACUUM")
            empty = _pages_by_object(conn, names)
        _write_runs(store, task_ids, rows, rng)
        store.close()
        with sqlite3.connect(path, isolation_level=None) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            counted = conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
            assert counted == rows, (counted, rows)
            as_written = sum(_pages_by_object(conn, names).values()) - sum(empty.values())
            conn.execute("VACUUM")
            after = _pages_by_object(conn, names)
            conn.execute(f"CREATE TABLE bare AS SELECT * FROM {TABLE}")
            conn.execute("VACUUM")
            bare = _pages_by_object(conn, ["bare"])["bare"] - 4096  # its empty first page
            raw = sum(sum(_raw_bytes(v) for v in row) for row in conn.execute(f"SELECT * FROM {TABLE}"))
    return RowSize(
        rows=rows,
        tasks=task_count,
        per_object={name: (after[name] - empty[name]) / rows for name in names},
        as_written=as_written / rows,
        bare_table=bare / rows,
        raw_values=raw / rows,
    )


def _short(name: str) -> str:
    if name == TABLE:
        return "table"
    if name.startswith("sqlite_autoindex_"):
        return "slot key index"  # the UNIQUE (task_id, scheduled_for, attempt) constraint
    return name.removeprefix("ix_smart_cron_executions_") + " index"


def figures(quick: bool) -> list[Figure]:
    size = measure(5_000 if quick else 100_000, 100)
    breakdown = ", ".join(f"{_short(name)} {value:.0f}" for name, value in size.per_object.items())
    return [
        Figure(
            "storage.bytes_per_execution",
            round(size.total, 1),
            "B",
            TARGET_BYTES,
            floor=round(size.raw_values, 1),
            note=f"{size.rows:,} rows, after VACUUM: {breakdown}; floor: the values' raw bytes "
            f"(preview {PREVIEW_BYTES} B, node name {len(NODE)} B)",
        ),
        Figure(
            "storage.bytes_per_execution_as_written",
            round(size.as_written, 1),
            "B",
            None,
            floor=round(size.total, 1),
            note="pages as the runner leaves them, before VACUUM (floor: the same rows packed)",
        ),
        Figure(
            "storage.bytes_per_execution_bare_table",
            round(size.bare_table, 1),
            "B",
            None,
            floor=round(size.raw_values, 1),
            note="the same rows in a table without indexes or constraints (SQLite's record format alone)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    size = measure(args.rows, args.tasks)
    print(f"{size.rows:,} runs of {size.tasks:,} tasks on SQLite, bytes per row:")
    for name, value in size.per_object.items():
        print(f"  {name:<55} {value:7.1f}")
    print(f"  {'total after VACUUM (target <= ' + format(TARGET_BYTES, 'g') + ')':<55} {size.total:7.1f}")
    print(f"  {'total as written (before VACUUM)':<55} {size.as_written:7.1f}")
    print(f"  {'floor: bare table, no index':<55} {size.bare_table:7.1f}")
    print(f"  {'floor: raw bytes of the values':<55} {size.raw_values:7.1f}")


if __name__ == "__main__":
    main()
