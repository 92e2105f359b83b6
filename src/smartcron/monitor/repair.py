"""Repairs of run state the health monitor makes: dead runs, hung runs, stale claimed runs.

* **Dead**: a ``running`` row whose process is gone and whose supervisor is gone too. On this node
  the pid (with its start time, so a reused pid does not count) and the processes carrying the
  run's ``SMARTCRON_EXECUTION_ID`` are checked; a row whose supervisor is still alive is left to it,
  because it is about to record the real outcome. The supervisor counts as alive while the row's
  lease is current and a runner or tick heartbeat of this node is fresh with its process running
  (a tick still watching a long run rewrites that heartbeat every few seconds, so it shows there
  even after newer ticks came and went). Rows of other nodes are judged by their lease only: an
  expired lease means their runner stopped renewing it; they are the live runners' to take over
  (``superseded``, retried at once), so the monitor ends them only when no runner is alive. Dead
  rows of this node become ``unknown_outcome`` (the process ended while nobody watched); retrying
  them is the runner's business, the alert service is told.
* **Hung**: a ``running`` row of this node past timeout + kill grace + a margin: the runner failed to
  end it, so its process group is killed and the row becomes ``timeout``. A run with no timeout
  (``timeout = 0``, the registry's word for none) that has run four times its usual duration
  (the longest of its last successful runs) and at least the margin longer than it is a *silent
  hang*: flagged, with a HIGH alert for its task, and left running (nothing said it may be killed).
* **Stale**: a ``scheduled`` row older than a bound while no runner is alive: nobody will start it
  on time, so it becomes ``missed`` instead of starting hours late.

Every write is a compare-and-swap on the row's current lease token, so a runner that records the
same row at the same moment wins or loses cleanly and nothing is written twice.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psutil

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ErrorCategory, ExecutionStatus
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.health import CheckResult
from smartcron.domain.task import Task
from smartcron.monitor.checks import RUNNER_ROLES, newest_runner_heartbeat
from smartcron.runner.process.env import SCHEDULED_FOR_VARIABLE
from smartcron.runner.process.procinfo import (
    TASK_NAME_VARIABLE,
    kill_group,
    process_alive,
    processes_by_execution,
    read_stat,
)
from smartcron.runner.scheduling.leases import live_runners
from smartcron.runner.scheduling.outcomes import as_finished, milliseconds_since, unknown_outcome
from smartcron.store import Store
from smartcron.store.executions import Finish
from smartcron.store.leases import superseded_outcome
from smartcron.store.nodes import Heartbeat

log = logging.getLogger(__name__)

ATTACH_GRACE = timedelta(seconds=60)
"""A running row without a pid is only a spawn in progress for this long (begin, then attach)."""
NAMES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Repaired:
    """A row the monitor ended, with what it wrote."""

    execution: Execution
    task: Task | None
    outcome: Outcome


SILENT_HANG_FACTOR = 4


@dataclass(frozen=True, slots=True)
class RepairReport:
    checks: list[CheckResult]
    repaired: list[Repaired]
    silent: list[Execution] = field(default_factory=list)
    """Runs with no timeout far past their usual duration: flagged, not ended."""


def _names(rows: Sequence[Execution]) -> str:
    shown = ", ".join(f"{row.task_name} (run {row.id})" for row in rows[:NAMES_SHOWN])
    return shown + (f" and {len(rows) - NAMES_SHOWN} more" if len(rows) > NAMES_SHOWN else "")


def _pid_alive(pid: int | None) -> bool:
    return pid is not None and process_alive(pid, None)


def _belongs_to(pid: int, row: Execution) -> bool:
    """The process was started for this very run: its environment names the run's task and slot.

    Execution ids alone are not enough: another smartcron on this machine (a second installation,
    a test run) numbers its runs from 1 too.
    """
    try:
        env = psutil.Process(pid).environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    slot = env.get(SCHEDULED_FOR_VARIABLE)
    return env.get(TASK_NAME_VARIABLE) == row.task_name and slot in (None, row.scheduled_for.isoformat())


def run_processes(row: Execution, by_execution: dict[int, list[int]]) -> list[int]:
    """Live processes of a run: those carrying its execution id, task and slot, and, once its
    process group is known, in that group."""
    found = []
    for pid in by_execution.get(row.id, []):
        stat = read_stat(pid)
        if stat is None or (row.pgid is not None and stat.pgid != row.pgid):
            continue
        if _belongs_to(pid, row):
            found.append(pid)
    return found


class RunRepairer:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def run(self, now: datetime, heartbeats: Sequence[Heartbeat]) -> RepairReport:
        running = self.store.executions.live(status=ExecutionStatus.RUNNING)
        tasks = self.store.tasks.by_ids(row.task_id for row in running)
        local = [row for row in running if row.node == self.settings.node]
        # One scan of /proc finds every task process of this node by its environment.
        by_execution = processes_by_execution() if local else {}
        hung_check, hung = self._end_hung(now, running, tasks, by_execution)
        hung_ids = {item.execution.id for item in hung}
        remaining = [row for row in running if row.id not in hung_ids]
        dead_check, dead = self._end_dead(now, remaining, tasks, by_execution, heartbeats)
        dead_ids = {item.execution.id for item in dead}
        silent = self._silent_hangs(now, [row for row in remaining if row.id not in dead_ids], tasks)
        if silent:
            hung_check = _with_silent(hung_check, silent)
        stale_check, stale = self._end_stale(now, heartbeats)
        return RepairReport([dead_check, hung_check, stale_check], hung + dead + stale, silent)

    # -- hung ---------------------------------------------------------------------------------

    def _deadline(self, row: Execution, task: Task | None) -> datetime | None:
        if task is None or row.started_at is None or task.spec.timeout <= 0:
            return None
        allowed = task.spec.timeout + task.spec.kill_grace + self.settings.health_hung_margin
        return row.started_at + timedelta(seconds=allowed)

    def _end_hung(
        self, now: datetime, running: Sequence[Execution], tasks: dict[int, Task], by_execution: dict[int, list[int]]
    ) -> tuple[CheckResult, list[Repaired]]:
        overdue = [
            row
            for row in running
            if (deadline := self._deadline(row, tasks.get(row.task_id))) is not None and now > deadline
        ]
        local = [row for row in overdue if row.node == self.settings.node]
        remote = [row for row in overdue if row.node != self.settings.node]
        repaired = []
        for row in local:
            self._kill(row, run_processes(row, by_execution))
            task = tasks.get(row.task_id)
            timeout = task.spec.timeout if task else 0
            outcome = Outcome(
                ExecutionStatus.TIMEOUT,
                now,
                reason=f"hung: still running well past its {timeout} s timeout; killed by the health monitor",
                error_category=ErrorCategory.RECOVERABLE,
                duration_ms=milliseconds_since(row, now),
            )
            repaired += self._write([(row, task, outcome)])
        if not overdue:
            return CheckResult("hung_tasks", CheckStatus.OK, 0, "no run is past its timeout"), repaired
        parts = []
        if repaired:
            parts.append(f"killed {len(repaired)} hung run(s): {_names([r.execution for r in repaired])}")
        if remote:
            parts.append(f"{len(remote)} run(s) past their timeout on other nodes: {_names(remote)}")
        return CheckResult("hung_tasks", CheckStatus.WARN, float(len(overdue)), "; ".join(parts)), repaired

    def _silent_hangs(self, now: datetime, running: Sequence[Execution], tasks: dict[int, Task]) -> list[Execution]:
        found = []
        margin = self.settings.health_hung_margin
        for row in running:
            task = tasks.get(row.task_id)
            if task is None or task.spec.timeout > 0 or row.started_at is None:
                continue
            usual = self.store.run_stats.usual_duration_ms(task.id)
            if usual is None:  # no run to compare with: nothing says this one is long
                continue
            allowed = max(SILENT_HANG_FACTOR * usual / 1000, usual / 1000 + margin)
            if (now - row.started_at).total_seconds() > allowed:
                found.append(row)
        return found

    def _kill(self, row: Execution, members: Sequence[int]) -> None:
        """SIGKILL the run's process group, but only when it provably is the run's: its leader is
        the recorded process (pid and start time), or a member carries the run's execution id.
        A process group number reused by something else is never hit."""
        leader_alive = row.pid is not None and process_alive(row.pid, row.proc_start)
        if not row.pgid or not (leader_alive or members):
            return
        try:
            kill_group(row.pgid, signal.SIGKILL)
        except ValueError:  # the row names the monitor's own group: never kill ourselves
            log.error("run %s names the monitor's own process group %s", row.id, row.pgid)
            return
        log.warning("killed hung run", extra={"task": row.task_name, "execution": row.id, "action": "kill"})

    # -- dead ---------------------------------------------------------------------------------

    def _supervisor_alive(self, heartbeats: Sequence[Heartbeat], now: datetime) -> bool:
        """A runner or tick of this node whose heartbeat is fresh and whose process still runs."""
        fresh_after = now - timedelta(seconds=self.settings.health_runner_down_after)
        return any(
            beat.name == self.settings.node
            and beat.role in RUNNER_ROLES
            and beat.heartbeat_at >= fresh_after
            and _pid_alive(beat.pid)
            for beat in heartbeats
        )

    def _process_gone(self, row: Execution, members: Sequence[int], now: datetime) -> bool:
        if members:
            return False
        if row.pid is None:  # begun but never attached: a spawn in progress, or a crash before it
            return row.started_at is not None and now - row.started_at > ATTACH_GRACE
        return not process_alive(row.pid, row.proc_start)

    def _end_dead(
        self,
        now: datetime,
        running: Sequence[Execution],
        tasks: dict[int, Task],
        by_execution: dict[int, list[int]],
        heartbeats: Sequence[Heartbeat],
    ) -> tuple[CheckResult, list[Repaired]]:
        supervised_here = self._supervisor_alive(heartbeats, now)
        runners_alive = self._runners_alive(heartbeats, now)
        dead: list[tuple[Execution, Outcome]] = []
        for row in running:
            lease_current = row.lease_expires_at is not None and row.lease_expires_at > now
            task = tasks.get(row.task_id)
            if row.node == self.settings.node:
                if (
                    task is not None
                    and self._process_gone(row, run_processes(row, by_execution), now)
                    and not (lease_current and supervised_here)
                ):
                    reason = "process gone: it ended while no runner watched it"
                    dead.append((row, unknown_outcome(row, task, now, reason)))
            elif not lease_current and not runners_alive:
                # With a runner alive, taking over is its job (it retries at once); the monitor
                # steps in only when nobody would.
                dead.append((row, superseded_outcome(row, now)))
        repaired = self._write([(row, tasks.get(row.task_id), outcome) for row, outcome in dead])
        if not repaired:
            return CheckResult("dead_tasks", CheckStatus.OK, 0, f"{len(running)} running, none dead"), repaired
        message = f"ended {len(repaired)} dead run(s): {_names([r.execution for r in repaired])}"
        return CheckResult("dead_tasks", CheckStatus.WARN, float(len(repaired)), message), repaired

    def _runners_alive(self, heartbeats: Sequence[Heartbeat], now: datetime) -> bool:
        """A runner or tick anywhere beat within two leases: it takes over lost nodes' runs itself."""
        within = timedelta(seconds=2 * self.settings.runner_lease_seconds)
        return bool(live_runners(list(heartbeats), now, within=within))

    # -- stale --------------------------------------------------------------------------------

    def _end_stale(self, now: datetime, heartbeats: Sequence[Heartbeat]) -> tuple[CheckResult, list[Repaired]]:
        newest = newest_runner_heartbeat(heartbeats)
        runner_alive = newest is not None and (now - newest.heartbeat_at).total_seconds() <= (
            self.settings.health_runner_down_after
        )
        if runner_alive:
            return CheckResult("stale_runs", CheckStatus.OK, 0, "a runner is alive to start queued runs"), []
        bound = timedelta(seconds=self.settings.health_stale_scheduled_after)
        stale = [row for row in self.store.executions.pending() if row.scheduled_for < now - bound]
        reason = f"no runner started it within {bound.total_seconds():.0f} s"
        tasks = self.store.tasks.by_ids(row.task_id for row in stale)
        outcome = Outcome(ExecutionStatus.MISSED, now, reason=reason)
        repaired = self._write([(row, tasks.get(row.task_id), outcome) for row in stale])
        if not repaired:
            return CheckResult("stale_runs", CheckStatus.OK, 0, "no queued run is stale"), repaired
        message = (
            f"no runner alive: {len(repaired)} queued run(s) recorded missed: {_names([r.execution for r in repaired])}"
        )
        return CheckResult("stale_runs", CheckStatus.WARN, float(len(repaired)), message), repaired

    # -- writing ------------------------------------------------------------------------------

    def _write(self, items: Sequence[tuple[Execution, Task | None, Outcome]]) -> list[Repaired]:
        """Finish each row only if it still holds the lease token we saw (compare-and-swap)."""
        repaired = []
        for row, task, outcome in items:
            # A row without a token has no lease to guard; the status check in finish() still holds.
            written = self.store.executions.finish([Finish(row.id, row.task_id, outcome)], token=row.lease_token)
            if row.id in written:
                log.warning(
                    "run %s of %s recorded %s: %s",
                    row.id,
                    row.task_name,
                    outcome.status.value,
                    outcome.reason,
                    extra={"task": row.task_name, "execution": row.id, "action": outcome.status.value},
                )
                repaired.append(Repaired(as_finished(row, outcome), task, outcome))
        return repaired


def _with_silent(check: CheckResult, silent: Sequence[Execution]) -> CheckResult:
    said = f"{len(silent)} run(s) with no timeout far past their usual duration, left running: {_names(silent)}"
    message = said if check.status is CheckStatus.OK else f"{check.message}; {said}"
    return CheckResult(check.name, CheckStatus.WARN, (check.value or 0.0) + len(silent), message)
