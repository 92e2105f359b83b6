"""The runs an engine answers for, from their start (or adoption, or end found by recovery) until
their row is written: what happens to a run's outcome.

The supervisor's thread (a process ended) and the loops (a start failed, recovery ended a row)
hand outcomes in; the recorder's thread writes them in batches and calls back here, where each
written run is considered for a retry, logged, and passed to the alert service; then the loop is
woken. A run is forgotten once its row is written (or found ended by someone else).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task
from smartcron.runner.scheduling.alert_hooks import AlertHook
from smartcron.runner.scheduling.outcomes import as_finished
from smartcron.runner.scheduling.recorder import Record, Recorder
from smartcron.runner.scheduling.retries import RetryBook
from smartcron.runner.scheduling.spool import Spool
from smartcron.store import Store
from smartcron.store.executions import Finish

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunContext:
    """What the engine remembers about a run it started, adopted or ended."""

    execution: Execution
    task: Task
    token: str | None
    record: Record | None = None
    attached: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def mark_attached(self) -> None:
        """The row holds the run's pid (or needs none): its outcome may now be written."""
        with self._lock:
            self.attached = True
            if self.record is not None:
                self.record.ready.set()

    def hand_over(self, record: Record) -> None:
        with self._lock:
            self.record = record
            if self.attached:
                record.ready.set()


class RunLedger:
    """Thread-safe: runs are opened by the loops, outcomes come from the supervisor's thread, and
    the recorder's thread reports what it wrote."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock,
        retries: RetryBook,
        wake: threading.Event,
        spool: Spool | None = None,
    ) -> None:
        self._clock = clock
        self._retries = retries
        self._wake = wake
        self._lock = threading.Lock()
        self._runs: dict[int, RunContext] = {}
        self.alerts = AlertHook(store, settings)
        self.recorder = Recorder(store, on_done=self._on_recorded, spool=spool)

    def open(self, execution: Execution, task: Task, token: str | None, *, attached: bool = False) -> RunContext:
        """Answer for this run from now on (its outcome comes back through ``submit``)."""
        context = RunContext(execution, task, token, attached=attached)
        with self._lock:
            self._runs[execution.id] = context
        return context

    def get(self, execution_id: int) -> RunContext | None:
        with self._lock:
            return self._runs.get(execution_id)

    def snapshot(self) -> dict[int, RunContext]:
        with self._lock:
            return dict(self._runs)

    def ended_unwritten(self) -> set[int]:
        """Runs whose process has ended and whose outcome waits to be written (the recorder's
        batch, or an outage): their rows still say ``running``, but they hold up nothing."""
        with self._lock:
            return {execution_id for execution_id, context in self._runs.items() if context.record is not None}

    def forget(self, execution_id: int) -> None:
        with self._lock:
            self._runs.pop(execution_id, None)

    def submit(self, context: RunContext, outcome: Outcome, *, spooled: bool = False) -> None:
        """Hand a run's outcome to the recorder (written once the row holds its pid, if any);
        ``spooled``: it came from the spool, whose file goes once it is written."""
        record = Record(Finish(context.execution.id, context.task.id, outcome), context.token, context, spooled=spooled)
        context.hand_over(record)
        self.recorder.submit(record)

    def end_rows(self, ended: Sequence[tuple[Execution, Task, Outcome]]) -> None:
        """Record outcomes of rows this engine did not run (recovery): written like any other run,
        then retried and alerted per policy."""
        for row, task, outcome in ended:
            self.submit(self.open(row, task, None, attached=True), outcome)

    def concluded(self, ended: Sequence[tuple[Task, Execution, Outcome]]) -> None:
        """Rows another writer already ended (a take-over of a lost node's runs): retried and
        alerted per policy, as if this engine had written them."""
        self._conclude(ended)
        self._wake.set()

    def _on_recorded(self, written: Sequence[Record], dropped: Sequence[Record]) -> None:
        """From the recorder thread, after a batch is written: retries, alerts, wake the loop."""
        self._conclude([(r.context.task, r.context.execution, r.finish.outcome) for r in written])
        if written:
            statuses = Counter(record.finish.outcome.status.value for record in written)
            log.info("recorded %d run(s): %s", len(written), ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
                     extra={"action": "record"})  # fmt: skip
        for record in dropped:
            log.warning(
                "not recorded: the row was ended elsewhere (its lease was taken over, or it was replaced)",
                extra={"execution": record.finish.execution_id, "action": "record"},
            )
        with self._lock:
            for record in (*written, *dropped):
                self._runs.pop(record.finish.execution_id, None)
        self._wake.set()

    def _conclude(self, ended: Sequence[tuple[Task, Execution, Outcome]]) -> None:
        now = self._clock.now()
        finished: list[tuple[Task, Execution]] = []
        for task, row, outcome in ended:
            execution = as_finished(row, outcome)
            finished.append((task, execution))
            plan = self._retries.consider(task, execution, outcome)
            if plan is not None:
                log.info(
                    "attempt %d in %.1f s",
                    plan.attempt,
                    plan.delay,
                    extra={"task": task.name, "execution": execution.id, "action": "retry"},
                )
            # A line per run that did not succeed; successes only in a line per batch (at a thousand
            # runs a second, a line per run is a third of the recording's work). Every run has its row.
            log.log(
                logging.DEBUG if outcome.status is ExecutionStatus.SUCCESS else logging.INFO,
                "recorded %s%s",
                outcome.status,
                f" ({outcome.reason})" if outcome.reason else "",
                extra={"task": task.name, "execution": execution.id, "action": "record"},
            )
        self.alerts.finished(finished, now)
