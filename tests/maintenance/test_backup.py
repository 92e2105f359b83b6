"""Backups of each database, restored into a fresh database and compared."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smartcron.domain.enums import ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.errors import StoreError
from smartcron.maintenance.backup import backup_database, list_backups, restore_backup, verify_backup
from smartcron.store import Store
from smartcron.store.engine import create_store_engine
from smartcron.store.executions import Finish, SlotClaim
from smartcron.store.schema import metadata
from tests.conftest import drop_server_database, make_database_url, utc

NOW = utc(2026, 3, 3, 1, 0)


def populate(store: Store) -> None:
    for n in range(3):
        spec = TaskSpec(name=f"job{n}", command=("echo", "ünïcode"), schedule="*/5 * * * *", category="demo")
        task = store.tasks.add(spec, now=NOW, next_run_at=NOW + timedelta(minutes=5))
        for minute in range(0, 20, 5):
            slot = NOW - timedelta(minutes=minute)
            [row] = store.executions.claim(
                [SlotClaim(task.id, slot, Trigger.SCHEDULE)], node="n", token=f"{n}-{minute}", now=slot
            )
            outcome = Outcome(
                ExecutionStatus.SUCCESS, slot + timedelta(seconds=2), exit_code=0, duration_ms=2000, output="ok ✓\n"
            )
            store.executions.finish([Finish(row.id, task.id, outcome)], token=None)
    store.alerts.raise_or_repeat(
        "disk_space_data",
        task_id=None,
        severity=Severity.HIGH,
        message="disk 85 %",
        now=NOW,
        notify_after=None,
        details={"value": 85.0},
    )
    store.metrics.record({"cpu_percent": 12.5}, at=NOW, node="n")


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in metadata.sorted_tables
        }


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = make_database_url(backend, tmp_path, "_restore")
    yield url
    if backend != "sqlite":
        drop_server_database(backend, url.rsplit("/", 1)[1])


def test_a_backup_of_each_database_restores_into_a_fresh_one_with_the_same_rows(
    store: Store, fresh_url: str, tmp_path: Path
) -> None:
    populate(store)
    url = store.engine.url.render_as_string(hide_password=False)

    backup = backup_database(url, tmp_path / "backups", NOW, keep=3)
    restore_backup(backup.path, fresh_url)

    restored = Store(create_store_engine(fresh_url))
    try:
        assert counts(restored) == counts(store)
        assert counts(restored)["smart_cron_executions"] == 12
        original, copy = store.tasks.get("job1"), restored.tasks.get("job1")
        assert copy.spec == original.spec and copy.next_run_at == original.next_run_at
        assert copy.last_execution_id == original.last_execution_id
        sample = store.executions.list(task_id=original.id, limit=1)[0]
        assert restored.executions.get(sample.id) == sample
        assert [a.message for a in restored.alerts.list(limit=5)] == ["disk 85 %"]
    finally:
        restored.close()
    assert backup.path.stat().st_mode & 0o777 == 0o600
    assert backup.verified


def test_only_the_newest_backups_are_kept(sqlite_store: Store, tmp_path: Path) -> None:
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    made = [backup_database(url, tmp_path, NOW + timedelta(days=day), keep=2).path for day in range(4)]

    assert list_backups(tmp_path) == made[2:]
    assert not made[0].exists() and not made[1].exists()


def test_a_damaged_backup_fails_verification(sqlite_store: Store, tmp_path: Path) -> None:
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    path = backup_database(url, tmp_path, NOW, keep=2).path
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))

    with pytest.raises(StoreError):
        verify_backup(path)


def test_a_mysql_dump_without_its_completion_marker_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "smartcron-mysql-20260303T010000Z.sql.gz"
    with gzip.open(path, "wb") as dump:
        dump.write(b"-- MariaDB dump\nCREATE TABLE x (id int);\nINSERT INTO x VALUES (1")

    with pytest.raises(StoreError, match="incomplete"):
        verify_backup(path)


def test_a_failed_dump_leaves_no_file_named_like_a_backup(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="pg_dump failed"):
        backup_database("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path, NOW, keep=2)

    assert list(tmp_path.iterdir()) == []
