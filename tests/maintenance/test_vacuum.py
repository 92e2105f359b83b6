"""Database upkeep runs on every database and leaves the data as it was."""

from __future__ import annotations

import os
from datetime import timedelta

from smartcron.maintenance.vacuum import vacuum_database, vacuum_steps
from smartcron.store import Store
from tests.conftest import utc

NOW = utc(2026, 3, 1)


def test_upkeep_runs_every_statement_of_its_database_and_keeps_the_data(store: Store) -> None:
    store.metrics.record({"cpu_percent": 1.0, "load1": 2.0}, at=NOW, node="n")
    seen: list[str] = []

    report = vacuum_database(store, progress=seen.append)

    assert report.statements == seen == vacuum_steps(store.dialect)
    assert report.size_before and report.size_after
    assert sorted(store.metrics.names()) == ["cpu_percent", "load1"]


def test_sqlite_upkeep_gives_deleted_space_back_and_empties_the_write_ahead_log(sqlite_store: Store) -> None:
    for minute in range(3000):
        sqlite_store.metrics.record(
            {"cpu_percent": float(minute), "memory_percent": 1.0},
            at=NOW + timedelta(minutes=minute),
            node="a-long-node-name",
        )
    while sqlite_store.metrics.delete_before(NOW + timedelta(days=30), chunk=5000):
        pass
    database = sqlite_store.engine.url.database
    assert database is not None

    report = vacuum_database(sqlite_store)

    assert report.size_before is not None and report.size_after is not None
    assert report.size_after < report.size_before / 2
    assert os.path.getsize(database + "-wal") == 0
