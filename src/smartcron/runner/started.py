"""Processes a batch has spawned, as the supervisor thread reports them, until their pids are written.

The runner spawns a batch of runs one after another and writes their pids in one statement at the
end. A pid comes with the process's start time (its identity for recovery), which the supervisor
thread reads from /proc while the batch goes on; ``collect`` waits for the last of those reports.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from smartcron.runner.process import Spawned


class StartReports:
    """Thread-safe: ``expect`` and ``collect`` from the spawning thread, ``reported`` from the supervisor's."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._awaited: set[int] = set()
        self._reports: dict[int, Spawned] = {}

    def expect(self, execution_id: int) -> None:
        """Before spawning it: a report for an execution nobody awaits is dropped."""
        with self._changed:
            self._awaited.add(execution_id)

    def forget(self, execution_id: int) -> None:
        """It did not start after all (no process, no report to wait for)."""
        with self._changed:
            self._awaited.discard(execution_id)
            self._reports.pop(execution_id, None)

    def reported(self, spawned: Spawned) -> None:
        with self._changed:
            if spawned.execution_id in self._awaited:
                self._awaited.discard(spawned.execution_id)
                self._reports[spawned.execution_id] = spawned
                if not self._awaited:  # the batch is complete (one batch at a time is collected)
                    self._changed.notify_all()

    def collect(self, execution_ids: Collection[int], timeout: float) -> list[Spawned]:
        """The reports of these executions (all that is awaited: one batch at a time), waiting up
        to ``timeout`` for missing ones; those still missing then are no longer awaited (a late
        report is dropped)."""
        with self._changed:
            self._changed.wait_for(lambda: self._awaited.isdisjoint(execution_ids), timeout)
            found = [self._reports.pop(eid) for eid in execution_ids if eid in self._reports]
            self._awaited.difference_update(execution_ids)
        return found
