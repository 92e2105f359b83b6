"""Health check results (``smart_cron_health_checks``) and metric samples (``smart_cron_metrics``).

Both tables only grow by inserts from the health monitor, so there is no concurrency contract
beyond "inserts never conflict". Metric series are bucketed in SQL, so a chart over 90 days reads a
few hundred aggregated rows, and old samples are downsampled to hourly averages so the table stays
small.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Table, and_, cast, delete, func, insert, select, text, type_coerce
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.sql import ColumnElement

from smartcron.domain.enums import CheckStatus
from smartcron.domain.health import CheckResult, RecordedCheck
from smartcron.store.engine import write_transaction
from smartcron.store.schema import health_checks as h
from smartcron.store.schema import metrics as m
from smartcron.store.types import EPOCH, to_millis

DEFAULT_CHUNK = 2000
LATEST_WINDOW = timedelta(days=1)


def delete_chunk(engine: Engine, table: Table, condition: ColumnElement[bool], *, chunk: int) -> int:
    """Delete up to ``chunk`` rows of ``table`` matching ``condition``, oldest first; returns how many.

    Callers loop until it returns 0: each chunk is its own short transaction, because one long
    delete would hold SQLite's only write lock and stall the runner (DESIGN 6).
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    with write_transaction(engine) as conn:
        ids = [int(r[0]) for r in conn.execute(select(table.c.id).where(condition).order_by(table.c.at).limit(chunk))]
        if not ids:
            return 0
        return int(conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount)


def _row_to_check(row: RowMapping) -> RecordedCheck:
    result = CheckResult(row["check_name"], CheckStatus(row["status"]), row["value"], row["message"])
    return RecordedCheck(at=row["at"], node=row["node"], result=result)


class HealthRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, results: Sequence[CheckResult], *, at: datetime, node: str | None) -> None:
        """Store one health run: every result with the same ``at``."""
        if not results:
            return
        rows = [
            {
                "at": at,
                "check_name": r.name,
                "status": r.status.value,
                "value": r.value,
                "message": r.message[:500],
                "node": node,
            }
            for r in results
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(h), rows)

    def latest(self, *, node: str | None = None) -> list[RecordedCheck]:
        """The newest result of every check (per node) reported within a day of the newest health
        run, ordered by check name and node. The day bounds the work to an index range, and a check
        no run has reported for a day is gone, not current."""
        with self._engine.connect() as conn:
            newest_run = conn.execute(select(func.max(h.c.at))).scalar()
        if newest_run is None:
            return []
        recent = h.c.at >= newest_run - LATEST_WINDOW
        newest = (
            select(h.c.check_name, h.c.node, func.max(h.c.at).label("at"))
            .where(recent)
            .group_by(h.c.check_name, h.c.node)
        )
        if node is not None:
            newest = newest.where(h.c.node == node)
        sub = newest.subquery()
        query = (
            select(h)
            .where(recent)
            .join(
                sub,
                and_(
                    h.c.check_name == sub.c.check_name,
                    h.c.at == sub.c.at,
                    # NULL-safe: a node-less row must match its own group.
                    func.coalesce(h.c.node, "") == func.coalesce(sub.c.node, ""),
                ),
            )
            .order_by(h.c.check_name, h.c.node, h.c.id)
        )
        with self._engine.connect() as conn:
            found: dict[tuple[str, str | None], RecordedCheck] = {}
            for row in conn.execute(query).mappings():
                found[(row["check_name"], row["node"])] = _row_to_check(row)
        return list(found.values())

    def history(
        self, check: str, since: datetime, *, until: datetime | None = None, limit: int = 10_000
    ) -> list[RecordedCheck]:
        """Results of one check from ``since`` (inclusive) to ``until`` (exclusive), oldest first."""
        query = select(h).where(h.c.check_name == check, h.c.at >= since).order_by(h.c.at, h.c.id).limit(limit)
        if until is not None:
            query = query.where(h.c.at < until)
        with self._engine.connect() as conn:
            return [_row_to_check(r) for r in conn.execute(query).mappings()]

    def run_times(self, since: datetime, *, node: str | None = None) -> list[datetime]:
        """When health runs happened since ``since``, oldest first (one time per run)."""
        query = select(h.c.at).where(h.c.at >= since).distinct().order_by(h.c.at)
        if node is not None:
            query = query.where(h.c.node == node)
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def last_run_before(self, at: datetime) -> datetime | None:
        """When the newest health run before ``at`` happened; None when none did."""
        with self._engine.connect() as conn:
            found: datetime | None = conn.execute(select(func.max(h.c.at)).where(h.c.at < at)).scalar_one()
            return found

    def delete_before(self, cutoff: datetime, *, chunk: int = DEFAULT_CHUNK) -> int:
        """Delete up to ``chunk`` results older than ``cutoff``; returns how many."""
        return delete_chunk(self._engine, h, h.c.at < cutoff, chunk=chunk)

    def database_size_bytes(self) -> int | None:
        """Bytes the database takes on disk (SQLite: file + WAL), or None if it cannot be told."""
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            path = self._engine.url.database
            if not path or path == ":memory:":
                return None
            return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        if dialect == "postgresql":
            query = text("SELECT pg_database_size(current_database())")
        else:
            query = text(
                "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables"
                " WHERE table_schema = DATABASE()"
            )
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    at: datetime
    value: float | None


def _seconds(step: timedelta | float) -> float:
    seconds = step.total_seconds() if isinstance(step, timedelta) else float(step)
    if seconds <= 0:
        raise ValueError("step must be positive")
    return seconds


def _hour_start(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


class MetricRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, samples: Mapping[str, float], *, at: datetime, node: str | None) -> None:
        """Store one sample per metric name, all taken at ``at``."""
        if not samples:
            return
        rows = [{"name": name, "at": at, "value": float(value), "node": node} for name, value in samples.items()]
        with self._engine.begin() as conn:
            conn.execute(insert(m), rows)

    def names(self) -> list[str]:
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(select(m.c.name).distinct().order_by(m.c.name))]

    def latest(self, name: str, *, node: str | None = None, at_or_before: datetime | None = None) -> MetricPoint | None:
        """The newest sample of ``name`` (optionally no later than ``at_or_before``)."""
        query = select(m.c.at, m.c.value).where(m.c.name == name).order_by(m.c.at.desc(), m.c.id.desc()).limit(1)
        if node is not None:
            query = query.where(m.c.node == node)
        if at_or_before is not None:
            query = query.where(m.c.at <= at_or_before)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return MetricPoint(row[0], float(row[1])) if row else None

    def series(
        self,
        name: str,
        since: datetime,
        until: datetime,
        step: timedelta | float,
        *,
        node: str | None = None,
    ) -> list[MetricPoint]:
        """Averages of ``name`` in consecutive buckets of ``step`` from ``since`` up to ``until``.

        Every bucket is returned, in order, starting at ``since + k * step``; a bucket without
        samples has value None, so a chart shows a gap instead of a misleading line.
        """
        step_s = _seconds(step)
        buckets = int(-(-(until - since).total_seconds() // step_s))  # ceiling division
        if buckets <= 0:
            return []
        index = self._bucket_index(since, step_s).label("bucket")
        query = (
            select(index, func.avg(m.c.value)).where(m.c.name == name, m.c.at >= since, m.c.at < until).group_by(index)
        )
        if node is not None:
            query = query.where(m.c.node == node)
        with self._engine.connect() as conn:
            averages = {int(r[0]): float(r[1]) for r in conn.execute(query)}
        return [MetricPoint(since + timedelta(seconds=k * step_s), averages.get(k)) for k in range(buckets)]

    def _bucket_index(self, since: datetime, step_s: float) -> ColumnElement[Any]:
        """SQL for ``floor((at - since) / step)``; each database spells time arithmetic its own way."""
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            # Stored as integer milliseconds; rows are filtered to at >= since, so integer
            # division truncates exactly like floor.
            millis = type_coerce(m.c.at, BigInteger)
            return (millis - to_millis(since)) // int(step_s * 1000)
        since_epoch = (since - EPOCH).total_seconds()
        if dialect == "postgresql":
            seconds: ColumnElement[Any] = func.extract("epoch", m.c.at)
        else:  # MySQL/MariaDB sessions run in UTC (engine.py), so UNIX_TIMESTAMP reads the column as UTC.
            seconds = func.unix_timestamp(m.c.at)
        # No cast to FLOAT: on MariaDB that is single precision and shifts epoch seconds by minutes.
        return cast(func.floor((seconds - since_epoch) / step_s), BigInteger)

    def delete_before(self, cutoff: datetime, *, chunk: int = DEFAULT_CHUNK) -> int:
        """Delete up to ``chunk`` samples older than ``cutoff``; returns how many."""
        return delete_chunk(self._engine, m, m.c.at < cutoff, chunk=chunk)

    def downsample_before(self, cutoff: datetime) -> int:
        """Replace the samples older than ``cutoff`` by one average per metric, node and hour.

        Works one day per transaction so the write lock is held briefly; idempotent (an hour
        already reduced to one sample at its start is left alone). Returns how many rows went.
        """
        with self._engine.connect() as conn:
            oldest = conn.execute(select(func.min(m.c.at)).where(m.c.at < cutoff)).scalar()
        if oldest is None:
            return 0
        removed = 0
        day = _hour_start(oldest).replace(hour=0)
        end_all = _hour_start(cutoff)  # only whole hours: the current hour may still get samples
        while day < end_all:
            removed += self._downsample_range(day, min(day + timedelta(days=1), end_all))
            day += timedelta(days=1)
        return removed

    def _downsample_range(self, start: datetime, end: datetime) -> int:
        with write_transaction(self._engine) as conn:
            rows = conn.execute(
                select(m.c.id, m.c.name, m.c.node, m.c.at, m.c.value).where(m.c.at >= start, m.c.at < end)
            ).all()
            groups: dict[tuple[str, str | None, datetime], list[tuple[int, datetime, float]]] = defaultdict(list)
            for row in rows:
                at = row.at.astimezone(UTC)
                groups[(row.name, row.node, _hour_start(at))].append((int(row.id), at, float(row.value)))
            stale_ids: list[int] = []
            averages: list[dict[str, Any]] = []
            for (name, node, hour), members in groups.items():
                if len(members) == 1 and members[0][1] == hour:
                    continue
                stale_ids.extend(member[0] for member in members)
                mean = sum(member[2] for member in members) / len(members)
                averages.append({"name": name, "node": node, "at": hour, "value": mean})
            if not stale_ids:
                return 0
            for offset in range(0, len(stale_ids), 500):
                conn.execute(delete(m).where(m.c.id.in_(stale_ids[offset : offset + 500])))
            conn.execute(insert(m), averages)
            return len(stale_ids) - len(averages)
