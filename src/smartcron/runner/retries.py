"""Retries a runner owes: remembered until due, then claimed like slots (DESIGN 3.7).

A retry is the row (task, slot, attempt n + 1), claimed through the same unique key as a slot, so
two runners that both remember it run it once. Until it is due it lives here, in memory; a runner
that stops claims the retries it still owes at once, so the next runner starts them.
"""

from __future__ import annotations

import heapq
import random
import threading
from dataclasses import dataclass
from datetime import datetime

from smartcron.domain.enums import Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.retry import RetryPlan, decide_retry
from smartcron.domain.task import Task
from smartcron.store.executions import SlotClaim


@dataclass(frozen=True, slots=True, order=True)
class PendingRetry:
    due_at: datetime
    task_id: int
    scheduled_for: datetime
    attempt: int
    retry_of: int

    def claim(self) -> SlotClaim:
        return SlotClaim(self.task_id, self.scheduled_for, Trigger.RETRY, attempt=self.attempt, retry_of=self.retry_of)


class RetryBook:
    """Thread-safe: the recorder thread adds, the loop takes."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._heap: list[PendingRetry] = []

    def consider(self, task: Task, execution: Execution, outcome: Outcome) -> RetryPlan | None:
        """Remember the next attempt of a finished run if its policy gives it one."""
        spec = task.spec
        plan = decide_retry(
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
        if plan is not None:
            retry = PendingRetry(
                plan.due_at, task.id, execution.scheduled_for, plan.attempt, execution.retry_of or execution.id
            )
            with self._lock:
                heapq.heappush(self._heap, retry)
        return plan

    def take_due(self, now: datetime | None) -> list[PendingRetry]:
        """Remove and return the retries due at ``now`` (all of them when ``now`` is None)."""
        with self._lock:
            due: list[PendingRetry] = []
            while self._heap and (now is None or self._heap[0].due_at <= now):
                due.append(heapq.heappop(self._heap))
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
