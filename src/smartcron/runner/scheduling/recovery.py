"""Ending what a dead runner left behind (DESIGN 3.10 and section 9).

A runner that starts looks at the live rows of its node; ``tick`` (which may run beside older ticks
still supervising their runs) looks only at rows whose lease ran out, i.e. whose owner stopped
renewing it. For each ``running`` row:

* its process is alive (pid and start time match): adopted, supervised under the task's timeout;
* its process is gone: ``abandoned`` (and retried if the task's policy allows);
* no pid was recorded (the runner died between spawning and writing the pid): its processes are
  found by the ``SMARTCRON_EXECUTION_ID`` in their environment (checked against the task name and
  slot too, so another installation's process with the same id is left alone), killed, and the row
  is ``abandoned``.

A runner killed while it waited to retry a failed run leaves the failed row and no row for the
next attempt: :func:`recall_owed_retries` remembers such retries again, at a runner's start, and in
the upkeep of a daemon or tick once one is overdue (its own runner would have claimed it by then).

``scheduled`` rows the dead runner claimed but never started are judged like missed slots by the
task's catch-up policy (``domain.planning.triage_waiting``): the ones to run stay and start as
usual, the others become ``missed``. Rows of other nodes are ended only when the node's heartbeat
is stale and the row's lease has expired: then any healthy runner marks them ``abandoned``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.planning import triage_waiting
from smartcron.domain.task import Task
from smartcron.runner.process.env import SCHEDULED_FOR_VARIABLE
from smartcron.runner.process.procinfo import (
    TASK_NAME_VARIABLE,
    find_processes_of,
    kill_group,
    process_alive,
    read_stat,
)
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.outcomes import abandoned
from smartcron.store.executions import Finish

log = logging.getLogger(__name__)

RUNNER_ROLES = ("runner", "tick")
RETRY_LOOKBACK = timedelta(days=1)
"""How far back failed runs are looked at for retries still owed: a retry whose runner died more
than a day before its due time is not made up for."""
OVERDUE_RETRY = timedelta(minutes=2)
"""How long after its latest due time a retry counts as abandoned by the runner that owed it."""


@dataclass(slots=True)
class RecoveryReport:
    adopted: int = 0
    abandoned: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.adopted + self.abandoned + self.missed


def recover_own_rows(engine: Engine, now: datetime, *, startup: bool) -> RecoveryReport:
    """Reconcile this node's live rows that no live runner looks after (see the module docstring)."""
    report = RecoveryReport()
    supervised = engine.supervised()
    rows = [row for row in engine.store.executions.live(node=engine.node) if row.id not in supervised]
    orphaned = [
        row
        for row in rows
        if row.status is ExecutionStatus.RUNNING
        # Our own lease on a row we do not supervise: a start that failed half-way.
        and (startup or _lease_expired(row, now) or row.lease_token == engine.lease_token)
    ]
    waiting = [row for row in rows if row.status is ExecutionStatus.SCHEDULED] if startup else []
    if not orphaned and not waiting:
        return report
    tasks = engine.store.tasks.by_ids(row.task_id for row in (*orphaned, *waiting))
    ended: list[tuple[Execution, Task, Outcome]] = []
    for row in orphaned:
        task = tasks.get(row.task_id)
        if task is None:
            continue
        if row.pid and _adopt(engine, row, task, now):
            report.adopted += 1
            continue
        reason = "process gone (its runner died)"
        if not row.pid:
            killed = _kill_processes_of(row)
            reason = f"its runner died before recording the process; {killed} process(es) killed"
        ended.append((row, task, abandoned(row, now, reason)))
    report.abandoned = len(ended)
    engine.end_rows(ended)
    report.missed = _triage_waiting(engine, waiting, tasks, now)
    if report.total:
        log.info(
            "recovered: %d adopted, %d abandoned, %d missed",
            report.adopted,
            report.abandoned,
            report.missed,
            extra={"action": "recover"},
        )
    return report


def reclaim_stale_nodes(engine: Engine, now: datetime) -> int:
    """Mark ``abandoned`` the running rows of other nodes that stopped beating and renewing."""
    rows = [
        row
        for row in engine.store.executions.live(status=ExecutionStatus.RUNNING)
        if row.node != engine.node and _lease_expired(row, now)
    ]
    if not rows:
        return 0
    stale_after = timedelta(seconds=engine.settings.health_runner_down_after)
    alive = {
        beat.name
        for beat in engine.store.nodes.all()
        if beat.role in RUNNER_ROLES and now - beat.heartbeat_at <= stale_after
    }
    stale = [row for row in rows if row.node not in alive]
    tasks = engine.store.tasks.by_ids(row.task_id for row in stale)
    engine.end_rows(
        [
            (row, tasks[row.task_id], abandoned(row, now, f"node {row.node} stopped renewing its lease"))
            for row in stale
            if row.task_id in tasks
        ]
    )
    if stale:
        log.warning("abandoned %d run(s) of dead nodes", len(stale), extra={"action": "recover"})
    return len(stale)


def _lease_expired(row: Execution, now: datetime) -> bool:
    return row.lease_expires_at is None or row.lease_expires_at < now


def _adopt(engine: Engine, row: Execution, task: Task, now: datetime) -> bool:
    assert row.pid is not None
    if not process_alive(row.pid, row.proc_start):
        return False
    started_at = row.started_at or now
    engine.adopt_context(row, task)
    adopted = engine.supervisor.adopt(
        row.id,
        pid=row.pid,
        pgid=row.pgid or row.pid,
        proc_start=row.proc_start,
        started_at=started_at,
        timeout_at=started_at + timedelta(seconds=task.spec.timeout) if task.spec.timeout > 0 else None,
        kill_grace=float(task.spec.kill_grace),
    )
    if not adopted:
        engine.forget(row.id)
        return False
    log.info("adopted pid %s", row.pid, extra={"task": task.name, "execution": row.id, "action": "adopt"})
    return True


def _environment(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            data = environ.read()
    except OSError:
        return {}
    pairs = (entry.split(b"=", 1) for entry in data.split(b"\0") if b"=" in entry)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def _kill_processes_of(row: Execution) -> int:
    """Kill the processes of a run whose pid never reached the database; returns how many."""
    killed = 0
    for pid in find_processes_of(row.id):
        env = _environment(pid)
        if env.get(TASK_NAME_VARIABLE) != row.task_name:
            continue
        if env.get(SCHEDULED_FOR_VARIABLE) not in (None, row.scheduled_for.isoformat()):
            continue
        stat = read_stat(pid)
        if stat is not None:
            with contextlib.suppress(ValueError):  # never our own group
                kill_group(stat.pgid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        killed += 1
        log.warning("killed unrecorded process %s", pid, extra={"execution": row.id, "action": "recover"})
    return killed


def _triage_waiting(engine: Engine, rows: Sequence[Execution], tasks: dict[int, Task], now: datetime) -> int:
    """Decide claimed slots that never started: keep those the catch-up policy runs, miss the rest."""
    by_task: dict[int, list[Execution]] = {}
    for row in rows:
        if row.trigger in (Trigger.SCHEDULE, Trigger.CATCHUP):  # manual runs and retries always run
            by_task.setdefault(row.task_id, []).append(row)
    finishes = []
    for task_id, task_rows in by_task.items():
        task = tasks.get(task_id)
        schedule = engine.schedule_of(task) if task else None
        if task is None or schedule is None:
            continue
        _, missed = triage_waiting(
            schedule,
            [row.scheduled_for for row in task_rows],
            now=now,
            catchup=task.spec.catchup,
            starting_deadline=task.spec.starting_deadline,
        )
        for row in task_rows:
            if row.scheduled_for in missed:
                reason = f"claimed but never started (its runner died); catchup {task.spec.catchup}"
                finishes.append(Finish(row.id, task_id, Outcome(ExecutionStatus.MISSED, now, reason=reason)))
    if finishes:
        engine.store.executions.finish(finishes, token=None)
    return len(finishes)


def recall_owed_retries(engine: Engine, now: datetime, *, overdue: timedelta | None) -> int:
    """Remember the retries owed for failed runs recorded earlier that no row has taken up yet
    (``ExecutionRepository.retries_owed``, ``RetryBook.recall``): all of them (``overdue`` None: a
    daemon starting), or only those at least ``overdue`` past their latest due time, at once.
    Returns how many were remembered. A task changed or run again since its failure owes nothing:
    making up for an old failure then would surprise more than it helps."""
    rows = engine.store.executions.retries_owed(now - RETRY_LOOKBACK)
    if not rows:
        return 0
    tasks = engine.store.tasks.by_ids(row.task_id for row in rows)
    recalled = 0
    for row in rows:
        task = tasks.get(row.task_id)
        if task is not None and engine.may_run_here(task):
            recalled += engine.retries.recall(task, row, now=now, overdue=overdue)
    if recalled:
        log.info("remembered %d retry(ies) owed for runs recorded earlier", recalled, extra={"action": "retry"})
    return recalled
