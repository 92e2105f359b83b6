"""Retries a runner owes: remembered until due, then claimed like slots (DESIGN 3.7).

A retry is the row (task, slot, attempt n + 1), claimed through the same unique key as a slot, so
two runners that both remember it run it once. Until it is due it lives here, in memory; a runner
that stops claims the retries it still owes at once, so the next runner starts them. What a
runner that was killed owed is not lost either: the failed row and the missing row of its next
attempt say it all, and :meth:`RetryBook.recall` remembers it again (at a runner's start, and
when it is overdue: ``runner.recovery.recall_owed_retries``).
"""

from __future__ import annotations

import heapq
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartcron.domain.enums import Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.retry import RetryPlan, decide_retry, longest_retry_delay
from smartcron.domain.task import Task
from smartcron.store.executions import SlotClaim


@dataclass(frozen=True, slots=True, order=True)
class PendingRetry:
    due_at: datetime
    task_id: int
    scheduled_for: datetime
    attempt: int
    retry_of: int

    @property
    def key(self) -> tuple[int, datetime, int]:
        """The row's unique key: (task, slot, attempt)."""
        return (self.task_id, self.scheduled_for, self.attempt)

    def claim(self) -> SlotClaim:
        return SlotClaim(self.task_id, self.scheduled_for, Trigger.RETRY, attempt=self.attempt, retry_of=self.retry_of)


class RetryBook:
    """Thread-safe: the recorder thread adds, the loop takes."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._heap: list[PendingRetry] = []
        self._keys: set[tuple[int, datetime, int]] = set()  # (task, slot, attempt) of those in the heap

    def consider(self, task: Task, execution: Execution, outcome: Outcome) -> RetryPlan | None:
        """Remember the next attempt of a finished run if its policy gives it one."""
        plan = self._plan(task, execution, outcome)
        if plan is not None:
            self._remember(task, execution, plan.attempt, plan.due_at)
        return plan

    def recall(self, task: Task, execution: Execution, *, now: datetime, overdue: timedelta | None = None) -> bool:
        """Remember the retry owed for a failed run recorded earlier (by this runner before a
        restart, or by a runner that is gone), unless it is remembered already. With ``overdue``,
        only if the retry's latest due time is at least that far past (its own runner should have
        claimed it by then), and then it is due at once. True when it was remembered."""
        assert execution.finished_at is not None
        ended = Outcome(execution.status, execution.finished_at, error_category=execution.error_category)
        plan = self._plan(task, execution, ended)
        if plan is None:
            return False
        due_at = plan.due_at
        if overdue is not None:
            spec = task.spec
            longest = longest_retry_delay(execution.attempt, base=spec.retry_delay, cap=spec.retry_max_delay)
            if execution.finished_at + timedelta(seconds=longest) + overdue > now:
                return False
            due_at = now
        return self._remember(task, execution, plan.attempt, due_at)

    def _plan(self, task: Task, execution: Execution, outcome: Outcome) -> RetryPlan | None:
        spec = task.spec
        return decide_retry(
            status=outcome.status,
            category=outcome.error_category,
            trigger=execution.trigger,
            attempt=execution.attempt,
            retries=spec.retries,
            base_delay=spec.retry_delay,
            max_delay=spec.retry_max_delay,
            finished_at=outcome.finished_at,
            rng=self._rng,
        )

    def _remember(self, task: Task, execution: Execution, attempt: int, due_at: datetime) -> bool:
        retry = PendingRetry(due_at, task.id, execution.scheduled_for, attempt, execution.retry_of or execution.id)
        with self._lock:
            if retry.key in self._keys:
                return False
            self._keys.add(retry.key)
            heapq.heappush(self._heap, retry)
        return True

    def take_due(self, now: datetime | None) -> list[PendingRetry]:
        """Remove and return the retries due at ``now`` (all of them when ``now`` is None)."""
        with self._lock:
            due: list[PendingRetry] = []
            while self._heap and (now is None or self._heap[0].due_at <= now):
                retry = heapq.heappop(self._heap)
                self._keys.discard(retry.key)
                due.append(retry)
            return due

    def next_due(self) -> datetime | None:
        with self._lock:
            return self._heap[0].due_at if self._heap else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._heap)

    def pending(self) -> list[PendingRetry]:
        with self._lock:
            return sorted(self._heap)
