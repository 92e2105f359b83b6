"""Ending what dead or lost runners left behind (DESIGN 3.10 and section 9).

**This node's rows** that no live runner looks after (at a runner's start: all of them; later:
those whose lease ran out, or that hold our own lease but are not supervised, a start that failed
half-way). For each ``running`` row:

* its process is alive (pid and start time match): adopted, supervised under the task's timeout;
* something of the run is still alive (a grandchild whose leader had exited, a process whose pid
  never reached the row): every process proven to be the run's is killed
  (:mod:`~smartcron.runner.process.orphans`) and the row becomes ``abandoned`` (retried per
  policy: the run was cut short);
* nothing of it is alive: it ended while nobody watched, so the row becomes ``unknown_outcome``,
  retried only when the task allows it (``retry_unknown_outcome``): it may have done its work.

At a runner's start, processes still carrying the id of a run of this node whose row has ended
(it was superseded while this runner was down) are killed too, so no process outlives its row.

``scheduled`` rows a dead runner claimed but never started are judged like missed slots by the
task's catch-up policy (``domain.planning.triage_waiting``).

**Other nodes' rows** whose lease ran out by the database's clock are taken over: ``superseded``
(``LeaseRepository.take_over_expired``), and their retry, if the task has one left, is due at once
(the run did not fail; its node did), so a task's next run comes within seconds of its node's
death. A runner that has itself just regained the database waits one lease length before taking
anything over: the other nodes may have been cut off just as it was, and deserve the chance to
renew.

A runner killed while it waited to retry a failed run leaves the failed row and no row for the
next attempt: :func:`recall_owed_retries` remembers such retries again, at a runner's start, and in
the upkeep of a daemon or tick once one is overdue (its own runner would have claimed it by then).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.planning import triage_waiting
from smartcron.domain.task import Task
from smartcron.runner.process.orphans import RunIdentity, end_run_processes, find_run_processes
from smartcron.runner.process.procinfo import processes_by_execution
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.leases import RUNNER_ROLES
from smartcron.runner.scheduling.outcomes import abandoned, unknown_outcome
from smartcron.store.executions import Finish

__all__ = [
    "OVERDUE_RETRY",
    "RUNNER_ROLES",
    "RecoveryReport",
    "look_after_runs",
    "recall_owed_retries",
    "recover_own_rows",
    "take_over_lost_nodes",
]

log = logging.getLogger(__name__)

RETRY_LOOKBACK = timedelta(days=1)
"""How far back failed runs are looked at for retries still owed: a retry whose runner died more
than a day before its due time is not made up for."""
OVERDUE_RETRY = timedelta(minutes=2)
"""How long after its latest due time a retry counts as abandoned by the runner that owed it."""


@dataclass(slots=True)
class RecoveryReport:
    adopted: int = 0
    abandoned: int = 0
    unknown: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.adopted + self.abandoned + self.unknown + self.missed


def identity_of(row: Execution, installation: str | None = None) -> RunIdentity:
    return RunIdentity(row.id, row.task_name, row.scheduled_for, row.pid, row.pgid, row.proc_start, installation)


def recover_own_rows(engine: Engine, now: datetime, *, startup: bool) -> RecoveryReport:
    """Reconcile this node's live rows that no live runner looks after (see the module docstring)."""
    report = RecoveryReport()
    supervised = engine.supervised()
    if startup:
        rows = [row for row in engine.store.executions.live(node=engine.node) if row.id not in supervised]
    else:  # running rows only, and whole rows only of those nobody supervises (usually none)
        brief = engine.store.executions.live_brief(node=engine.node, status=ExecutionStatus.RUNNING)
        rows = engine.store.executions.by_ids(row.id for row in brief if row.id not in supervised)
        rows = [row for row in rows if row.status is ExecutionStatus.RUNNING]
    orphaned = [
        row
        for row in rows
        if row.status is ExecutionStatus.RUNNING
        # Our own lease on a row we do not supervise: a start that failed half-way.
        and (startup or _lease_expired(row, now) or row.lease_token == engine.lease_token)
    ]
    waiting = [row for row in rows if row.status is ExecutionStatus.SCHEDULED] if startup else []
    if startup:
        _end_orphans_of_ended_rows(engine)
    if not orphaned and not waiting:
        return report
    tasks = engine.store.tasks.by_ids(row.task_id for row in (*orphaned, *waiting))
    ended: list[tuple[Execution, Task, Outcome]] = []
    leftovers = find_run_processes(identity_of(row, engine.installation) for row in orphaned)
    for row in orphaned:
        task = tasks.get(row.task_id)
        if task is None:
            continue
        if row.pid and _adopt(engine, row, task, now):
            report.adopted += 1
            continue
        killed = end_run_processes(identity_of(row, engine.installation), leftovers.get(row.id, []))
        if killed:
            reason = f"its runner died; {killed} process(es) of the run killed"
            ended.append((row, task, abandoned(row, now, reason)))
            report.abandoned += 1
        else:
            reason = (
                "its process ended while its runner was down"
                if row.pid
                else "its runner died before recording the process"
            )
            ended.append((row, task, unknown_outcome(row, task, now, reason)))
            report.unknown += 1
    engine.end_rows(ended)
    report.missed = _triage_waiting(engine, waiting, tasks, now)
    if report.total:
        log.info(
            "recovered: %d adopted, %d abandoned, %d outcome unknown, %d missed",
            report.adopted,
            report.abandoned,
            report.unknown,
            report.missed,
            extra={"action": "recover"},
        )
    return report


def _end_orphans_of_ended_rows(engine: Engine) -> None:
    """Kill processes of this node's runs whose rows ended while the runner was down."""
    by_execution = processes_by_execution()
    if not by_execution:
        return
    candidates = engine.store.executions.by_ids(by_execution)
    ended = [row for row in candidates if row.status.is_final and row.node == engine.node]
    found = find_run_processes(identity_of(row, engine.installation) for row in ended)
    for row in ended:
        killed = end_run_processes(identity_of(row, engine.installation), found.get(row.id, []))
        if killed:
            log.warning(
                "killed %d process(es) of a run that had ended (%s) while its runner was down",
                killed,
                row.status,
                extra={"task": row.task_name, "execution": row.id, "action": "recover"},
            )


def take_over_lost_nodes(engine: Engine, now: datetime) -> int:
    """End as ``superseded`` the running rows of other nodes that stopped renewing their leases;
    their retries (if any are left) are due at once. Returns how many rows were taken over."""
    lease = engine.settings.runner_lease_seconds
    if engine.db_status.reachable_for() < lease:
        return 0  # we were cut off ourselves a moment ago: give the others a lease to renew
    taken = engine.store.leases.take_over_expired(now=now, node=engine.node)
    if not taken:
        return 0
    tasks = engine.store.tasks.by_ids(item.execution.task_id for item in taken)
    engine.ledger.concluded(
        [
            (tasks[item.execution.task_id], item.execution, item.outcome)
            for item in taken
            if item.execution.task_id in tasks
        ]
    )
    nodes = sorted({item.execution.node or "?" for item in taken})
    log.warning(
        "took over %d run(s) of node(s) %s, whose lease ran out",
        len(taken),
        ", ".join(nodes),
        extra={"action": "recover"},
    )
    return len(taken)


def _lease_expired(row: Execution, now: datetime) -> bool:
    return row.lease_expires_at is None or row.lease_expires_at < now


def _adopt(engine: Engine, row: Execution, task: Task, now: datetime) -> bool:
    assert row.pid is not None
    from smartcron.runner.process.procinfo import process_alive

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


def look_after_runs(engine: Engine, now: datetime, *, announced: bool) -> None:
    """The loops' chores every heartbeat interval: rows of lost nodes, this node's orphaned rows,
    and (for a runner that announces itself: a daemon, a tick) the retries other runners owed."""
    take_over_lost_nodes(engine, now)
    recover_own_rows(engine, now, startup=False)
    if announced:
        recall_owed_retries(engine, now, overdue=OVERDUE_RETRY)
