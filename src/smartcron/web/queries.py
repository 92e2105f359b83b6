"""Read queries behind the dashboard and the JSON API.

Each query is shaped for an index (DESIGN 8: p95 <= 100 ms with a million executions):

* the task grid is paginated, and the 7-day success rate is computed only for the tasks on the
  page, through the (task_id, scheduled_for, attempt) unique index (the dashboard answers it from
  memory instead: ``success_window.py``);
* activity charts read a time range of ``finished_at`` through its index and group in the
  database by a bucket expression, so only one row per bucket leaves it;
* lists of runs page by id (keyset), never by OFFSET or COUNT over the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, literal_column, or_, select, type_coerce
from sqlalchemy.sql import ColumnElement

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.errors import NotFoundError
from smartcron.store import Store
from smartcron.store.executions import LIVE as LIVE_STATUSES
from smartcron.store.executions import row_to_execution
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t
from smartcron.store.tasks import row_to_task

SUCCESS_WINDOW = timedelta(days=7)
COUNTED_STATUSES = ("success", "failed", "timeout", "killed", "abandoned")
"""Runs that count towards success and failure rates: skipped and missed slots never ran."""
FAILURE_STATUSES = tuple(s.value for s in ExecutionStatus if s.is_failure)
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class GridRow:
    task: Task
    runs_7d: int
    successes_7d: int

    @property
    def success_rate(self) -> float | None:
        """Successful share of the runs in the last 7 days, or None when there were none."""
        return self.successes_7d / self.runs_7d if self.runs_7d else None


@dataclass(frozen=True, slots=True)
class GridPage:
    rows: list[GridRow]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Runs that finished in ``[start, start + width)``."""

    start: datetime
    runs: int
    failures: int
    avg_duration_ms: float | None

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.runs if self.runs else None


def _task_filter(category: str | None, search: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if category:
        conditions.append(t.c.category == category)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        conditions.append(or_(t.c.name.like(like, escape="\\"), t.c.description.like(like, escape="\\")))
    return conditions


class SuccessCounter(Protocol):
    """Answers :func:`success_counts` from memory (``web.success_window.SuccessWindow``)."""

    def counts(self, task_ids: Iterable[int], *, since: datetime) -> dict[int, tuple[int, int]]: ...


def task_grid(
    store: Store,
    *,
    now: datetime,
    category: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = 100,
    successes: SuccessCounter | None = None,
    status: ColumnElement[bool] | None = None,
) -> GridPage:
    """One page of the grid; ``status`` is a further WHERE term (``task_filter.condition``)."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    conditions = _task_filter(category, search)
    if status is not None:
        conditions.append(status)
    query = select(t).where(*conditions).order_by(t.c.category, t.c.name).offset(offset).limit(limit)
    with store.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(t).where(*conditions)).scalar_one())
        found = [row_to_task(r) for r in conn.execute(query).mappings()]
    ids, since = [task.id for task in found], now - SUCCESS_WINDOW
    rates = successes.counts(ids, since=since) if successes else success_counts(store, ids, since=since)
    rows = [GridRow(task, *rates.get(task.id, (0, 0))) for task in found]
    return GridPage(rows=rows, total=total, offset=offset, limit=limit)


def grid_row(task: Task, successes: SuccessCounter, *, now: datetime) -> GridRow:
    """One task's grid row (after an action on it)."""
    counts = successes.counts([task.id], since=now - SUCCESS_WINDOW)
    return GridRow(task, *counts.get(task.id, (0, 0)))


def success_counts(store: Store, task_ids: list[int], *, since: datetime) -> dict[int, tuple[int, int]]:
    """task id -> (runs, successes) among runs scheduled since ``since``."""
    if not task_ids:
        return {}
    query = (
        select(
            e.c.task_id,
            func.count(),
            func.sum(case((e.c.status == ExecutionStatus.SUCCESS.value, 1), else_=0)),
        )
        .where(e.c.task_id.in_(task_ids), e.c.scheduled_for >= since, e.c.status.in_(COUNTED_STATUSES))
        .group_by(e.c.task_id)
    )
    with store.engine.connect() as conn:
        return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in conn.execute(query)}


def categories(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.c.category).distinct().order_by(t.c.category))]


def _bucket_expression(dialect: str, width: int) -> ColumnElement[Any]:
    """Start of the bucket a row's ``finished_at`` falls in, as epoch seconds, per dialect."""
    if dialect == "sqlite":  # stored as integer milliseconds (store/types.py)
        millis = type_coerce(e.c.finished_at, BigInteger)
        return cast(millis / (width * 1000), Integer) * width
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", e.c.finished_at) / width), BigInteger) * width
    # MySQL/MariaDB: sessions run in UTC (engine.py), so UNIX_TIMESTAMP reads the DATETIME as UTC.
    return cast(func.floor(func.unix_timestamp(e.c.finished_at) / width), Integer) * width


def activity(store: Store, *, since: datetime, until: datetime, bucket_seconds: int) -> list[Bucket]:
    """Finished runs per bucket between ``since`` and ``until`` (empty buckets left out)."""
    bucket = _bucket_expression(store.dialect, bucket_seconds).label("bucket")
    query = (
        select(
            bucket,
            func.count(),
            func.sum(case((e.c.status.in_(FAILURE_STATUSES), 1), else_=0)),
            func.avg(e.c.duration_ms),
        )
        .where(e.c.finished_at >= since, e.c.finished_at < until, e.c.status.in_(COUNTED_STATUSES))
        .group_by(bucket)
        .order_by(bucket)
    )
    with store.engine.connect() as conn:
        return [
            Bucket(
                start=datetime.fromtimestamp(int(r[0]), UTC),
                runs=int(r[1]),
                failures=int(r[2] or 0),
                avg_duration_ms=float(r[3]) if r[3] is not None else None,
            )
            for r in conn.execute(query)
        ]


def fill_buckets(buckets: list[Bucket], *, since: datetime, until: datetime, width: int) -> list[Bucket]:
    """Every bucket in the range, with zero runs where nothing finished (charts need the gaps)."""
    by_start = {int(b.start.timestamp()): b for b in buckets}
    first = int(since.timestamp()) // width * width
    out = []
    for start in range(first, int(until.timestamp()), width):
        out.append(by_start.get(start) or Bucket(datetime.fromtimestamp(start, UTC), 0, 0, None))
    return out


def _running() -> list[ColumnElement[bool]]:
    # SQLite uses the partial index of live rows only when the query repeats its WHERE term with
    # the same literal values (bound parameters do not match); otherwise it scans the whole table.
    live: list[ColumnElement[str]] = [literal_column(f"'{status}'") for status in LIVE_STATUSES]
    return [e.c.status.in_(live), e.c.status == literal_column(f"'{ExecutionStatus.RUNNING.value}'")]


def running_count(store: Store) -> int:
    """Runs alive now; reads the small partial index of live rows."""
    query = select(func.count()).select_from(e).where(*_running())
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def running_task_ids(store: Store) -> set[int]:
    query = select(e.c.task_id).where(*_running()).distinct()
    with store.engine.connect() as conn:
        return {int(r[0]) for r in conn.execute(query)}


def task_names(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.c.name).order_by(t.c.name))]


def runs_of_tasks_named_like(
    store: Store,
    text: str | None,
    *,
    status: ExecutionStatus | None = None,
    trigger: Trigger | None = None,
    since: datetime | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Execution]:
    """Runs, newest first, of the tasks whose name contains ``text`` (any case; all tasks when
    empty), with ``status`` and ``trigger``, of slots at or after ``since``. A name given exactly
    reads that task's history by slot (:func:`task_history`)."""
    if not text:
        return store.executions.list(status=status, trigger=trigger, since=since, limit=limit, before_id=before_id)
    with store.engine.connect() as conn:
        exact = conn.execute(select(t.c.id).where(t.c.name == text)).scalar_one_or_none()
    if exact is not None:
        return task_history(
            store, int(exact), status=status, trigger=trigger, since=since, limit=limit, before_id=before_id
        )
    page = max(1, min(limit, MAX_PAGE))
    return store.executions.list(
        name_contains=text, status=status, trigger=trigger, since=since, limit=page, before_id=before_id
    )


def task_history(
    store: Store,
    task_id: int,
    *,
    status: ExecutionStatus | None = None,
    trigger: Trigger | None = None,
    since: datetime | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Execution]:
    """A task's runs, newest slot first, read backwards along the (task, slot, attempt) index.

    Ordering a busy task's runs by id instead would sort all of them (100,000s) for each page.
    ``before_id`` continues after that run in this order.
    """
    query = (
        select(e, t.c.name.label("task_name"))
        .join(t, t.c.id == e.c.task_id)
        .where(e.c.task_id == task_id)
        .order_by(e.c.scheduled_for.desc(), e.c.attempt.desc())
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    if status is not None:
        query = query.where(e.c.status == status.value)
    if trigger is not None:
        query = query.where(e.c.trigger == trigger.value)
    if since is not None:
        query = query.where(e.c.scheduled_for >= since)
    with store.engine.connect() as conn:
        if before_id is not None:
            anchor = conn.execute(
                select(e.c.scheduled_for, e.c.attempt).where(e.c.id == before_id, e.c.task_id == task_id)
            ).first()
            if anchor is None:
                raise NotFoundError(f"no execution {before_id} of this task")
            query = query.where(
                or_(
                    e.c.scheduled_for < anchor[0],
                    and_(e.c.scheduled_for == anchor[0], e.c.attempt < anchor[1]),
                )
            )
        return [row_to_execution(r) for r in conn.execute(query).mappings()]


CHART_RANGES = (6, 24, 168, 720)
"""The ranges the charts page offers, in hours."""


def fitted_chart_hours(store: Store, now: datetime) -> int:
    """The shortest range that holds every finished run (the newest 30 days at most): a history of
    two hours is drawn across the chart, not squeezed into the right edge of a day."""
    with store.engine.connect() as conn:
        first = conn.execute(select(func.min(e.c.finished_at))).scalar()  # the finished_at index's first entry
    if first is None:
        return CHART_RANGES[0]
    first = first if first.tzinfo else first.replace(tzinfo=UTC)
    age_hours = (now - first).total_seconds() / 3600
    return next((hours for hours in CHART_RANGES if hours >= age_hours), CHART_RANGES[-1])
