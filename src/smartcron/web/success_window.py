"""Runs and successes per task over the last days, kept in memory for the task grid and task pages.

Counting a page's 7-day success rates in SQL reads every run of those tasks in the week through
the slot index and then fetches each row for its status: with 1,000,000 runs that was 40-65 ms of
SQL for a page of 100-200 tasks, and it grows with how often the tasks run. Here the window is read
once (one range of the ``finished_at`` index), and each request then reads only the rows that
finished since (:class:`~smartcron.web.finished_feed.FinishedFeed`). The answer is the same as
:func:`smartcron.web.queries.success_counts`: per task, the slot times of counted runs and of
successful ones are kept sorted, and a request counts those at or after ``since`` by bisection.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from smartcron.domain.enums import ExecutionStatus
from smartcron.store import Store
from smartcron.store.schema import executions as e
from smartcron.store.types import to_millis
from smartcron.web.finished_feed import FinishedFeed
from smartcron.web.queries import COUNTED_STATUSES, success_counts

SLACK = timedelta(days=1)
"""History kept before the oldest ``since`` asked for, so the window can slide a day before the
kept runs are trimmed (and a slightly earlier ``since`` is still answered from memory)."""
EARLY_FINISH = timedelta(minutes=1)
"""How long before its slot a counted run can have finished (claimed ahead, killed before its slot)."""
SUCCESS = ExecutionStatus.SUCCESS.value
COUNTED = frozenset(COUNTED_STATUSES)


class SuccessWindow:
    """Thread-safe; one per dashboard process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._feed = FinishedFeed(store.engine, [e.c.task_id, e.c.scheduled_for, e.c.status])
        self._start: int | None = None  # slot time (ms) from which runs are kept
        self._slots: dict[int, list[int]] = defaultdict(list)  # task id -> slot times of counted runs
        self._successes: dict[int, list[int]] = defaultdict(list)  # task id -> slot times of successes

    def counts(self, task_ids: Iterable[int], *, since: datetime) -> dict[int, tuple[int, int]]:
        """task id -> (runs, successes) among runs scheduled since ``since`` (tasks without any left out)."""
        ids = list(task_ids)
        if not ids:
            return {}
        since_ms = to_millis(since)
        with self._lock:
            if self._start is None or since_ms < self._start:
                if not self._load(since):
                    return success_counts(self._store, ids, since=since)
            else:
                self._take_new_rows()
                if since_ms - self._start > 2 * to_millis_delta(SLACK):
                    self._trim(since_ms - to_millis_delta(SLACK))
            answer = {}
            for task_id in ids:
                slots = self._slots.get(task_id)
                if slots:
                    runs = len(slots) - bisect_left(slots, since_ms)
                    if runs:
                        successes = self._successes.get(task_id, [])
                        answer[task_id] = (runs, len(successes) - bisect_left(successes, since_ms))
            return answer

    def _load(self, since: datetime) -> bool:
        """Read the runs scheduled since ``since - SLACK``; False when nothing has finished yet."""
        start = since - SLACK
        self._slots.clear()
        self._successes.clear()
        with self._store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot for the feed's start and the runs
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                watermark = self._feed.start(conn)
                if watermark is None:
                    self._start = None
                    return False
                runs = select(e.c.task_id, e.c.scheduled_for, e.c.status).where(
                    e.c.finished_at >= start - EARLY_FINISH,
                    e.c.finished_at <= watermark,
                    e.c.scheduled_for >= start,
                    e.c.status.in_(COUNTED_STATUSES),
                )  # in finish order; sorted below (cheaper than a sort in the database)
                for task_id, slot, status in conn.execute(runs):
                    self._slots[int(task_id)].append(to_millis(slot))
                    if status == SUCCESS:
                        self._successes[int(task_id)].append(to_millis(slot))
        for kept in (self._slots, self._successes):
            for slots in kept.values():
                slots.sort()
        self._start = to_millis(start)
        return True

    def _take_new_rows(self) -> None:
        assert self._start is not None
        for _, _, task_id, slot, status in self._feed.new_rows():
            at = to_millis(slot)
            if status not in COUNTED or at < self._start:
                continue
            insort(self._slots[int(task_id)], at)
            if status == SUCCESS:
                insort(self._successes[int(task_id)], at)

    def _trim(self, start: int) -> None:
        """Forget runs scheduled before ``start`` (milliseconds)."""
        for kept in (self._slots, self._successes):
            for task_id, slots in list(kept.items()):
                del slots[: bisect_left(slots, start)]
                if not slots:
                    del kept[task_id]
        self._start = start


def to_millis_delta(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)
