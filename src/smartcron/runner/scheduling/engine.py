"""One scheduling pass and the recording of its runs, shared by the daemon, ``tick`` and manual runs.

A pass (DESIGN 3): take the due tasks (``SlotRepository.claim_due``: in a cluster only this node's
fair share of a crowded instant, and no more than it has room for), plan their slots
(``domain.planning``), decide overlap (``domain.overlap``), claim every row with one batched
insert (the unique slot key makes a lost race harmless) and move each task's ``next_run_at``, all
in one transaction; then start the ``scheduled`` rows that may start (:mod:`.starts`). Rows
claimed but not started (queued behind a running run, a catch-up chain) stay ``scheduled`` and
start later. Ended runs come back from the supervisor's thread and go to the engine's
``RunLedger`` (:mod:`.ledger`), whose recorder thread writes them; a recoverable failure is
remembered as a retry due at its backoff time and claimed like a slot when due, so no retry runs
twice either. The engine's :class:`~.leases.LeaseKeeper` thread keeps its heartbeat and leases
alive meanwhile.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from smartcron import failpoints
from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.schedule import Schedule
from smartcron.domain.task import Task
from smartcron.runner.process.env import installation_id
from smartcron.runner.process.supervisor import ProcessResult, Supervisor, open_file_limit
from smartcron.runner.scheduling.claims import Schedules, activity_of, plan_claims
from smartcron.runner.scheduling.connectivity import DatabaseStatus, watch_engine
from smartcron.runner.scheduling.dbclock import ClockReading
from smartcron.runner.scheduling.leases import RUNNER_ROLES, ClusterView, LeaseKeeper
from smartcron.runner.scheduling.ledger import RunContext, RunLedger
from smartcron.runner.scheduling.outcomes import outcome_of
from smartcron.runner.scheduling.retries import RetryBook
from smartcron.runner.scheduling.spool import Spool
from smartcron.runner.scheduling.starts import StartPlan, Starts
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from smartcron.store.slots import Move

log = logging.getLogger(__name__)

CLAIM_LIMIT_ALONE = 5000
"""Due tasks one pass takes when no other runner is alive (more are taken by the next pass)."""
SHUTDOWN_REASON = "shutdown: its runner stopped before starting it"


def new_token() -> str:
    return uuid.uuid4().hex


def spool_of(settings: Settings) -> Spool:
    """The spool of this node's runners (daemon and ticks share it: each outcome carries its token)."""
    return Spool(Path(settings.data_dir) / "spool" / re.sub(r"[^A-Za-z0-9_.@:-]", "_", settings.node))


@dataclass(frozen=True, slots=True)
class PassReport:
    due: int = 0
    claimed: int = 0
    started: int = 0


class Engine:
    """Plans, claims, starts and records runs for one node. Thread-safe where it says so."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock,
        role: str,
        base_env: Mapping[str, str],
        cwd: str,
        rng: random.Random | None = None,
        db_status: DatabaseStatus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.role = role
        self.node = settings.node
        self.tags = settings.node_tags
        self.lease_token = new_token()
        self.started_at = clock.now()
        self.wake = threading.Event()
        """Set when something happened that a sleeping loop should act on (a run ended, a retry)."""
        self.base_env = dict(base_env)
        self.installation = installation_id(settings.database_url)
        self.cwd = cwd
        self.db_status = db_status or DatabaseStatus(clock=clock)
        self.retries = RetryBook(rng or random.Random())
        self.ledger = RunLedger(
            store, settings, clock=clock, retries=self.retries, wake=self.wake, spool=spool_of(settings)
        )
        self.recorder = self.ledger.recorder
        self.starts = Starts(self)
        self.lease_keeper = LeaseKeeper(self, announce=role in RUNNER_ROLES)
        self.more_due = False
        """The last claim left due tasks (over its fair share or limit): come back soon."""
        self._schedules = Schedules(settings.timezone)
        self._prepared: dict[int, Task] = {}
        self._prepared_rows: list[Execution] = []
        self._jumps: list[ClockReading] = []
        self._jumps_lock = threading.Lock()
        self._unwatch: Callable[[], None] | None = None
        self.supervisor = Supervisor(clock=clock, on_exit=self._on_exit)

    def start(self) -> None:
        self._unwatch = watch_engine(self.store.engine, self.db_status)
        self.supervisor.start()
        self.recorder.start()
        self.lease_keeper.start()
        if self.max_parallel < self.settings.runner_max_parallel:
            log.warning(
                "runner.max_parallel is %d, but the open-file limit (ulimit -n %d) allows %d runs at once; "
                "running at most %d (raise LimitNOFILE or ulimit -n for more)",
                self.settings.runner_max_parallel, open_file_limit(), self.max_parallel, self.max_parallel,
                extra={"action": "start"},
            )  # fmt: skip

    @property
    def alerts_due(self) -> threading.Event:
        """Set when an alert message may be owed at once (the daemon's sender waits on it)."""
        return self.ledger.alerts.due

    @property
    def max_parallel(self) -> int:
        """Runs at once: ``runner.max_parallel``, or fewer when the open-file limit allows fewer."""
        return min(self.settings.runner_max_parallel, self.supervisor.max_runs)

    @property
    def cluster(self) -> ClusterView:
        return self.lease_keeper.cluster

    # -- a pass -----------------------------------------------------------------------------------

    def run_pass(self, now: datetime, *, plan: bool = True, only: set[int] | None = None) -> PassReport:
        """Claim due slots (unless ``plan`` is False) and due retries, start what may start.

        ``only`` restricts starting to those execution ids (a manual run done in-process).
        """
        due, won = self._claim_due(now, skip_busy=False) if plan else ([], [])
        won += self._claim(self._due_retries(now), now)
        known, self._prepared = self._prepared | {task.id: task for task in due}, {}
        # The recorder waits while rows are chosen and begun (the GIL, and SQLite's one writer),
        # not while the spawner starts them: that wait holds neither, and ended runs get written.
        with self.recorder.paused():
            begun = self.starts.begin(self.starts.choose(now, only=only, known=known), now)
        started = self.starts.spawn(begun)
        self._alert_final(won, known, now)  # missed, skipped: after the starts
        return PassReport(due=len(due), claimed=len(won), started=started)

    def prepare(self, slot: datetime) -> PassReport:
        """Plan and claim, just ahead of ``slot``, what falls due at it, so that at the slot only
        ``start_prepared`` remains: how the daemon starts a crowded instant on time. Tasks with a
        live run are left to the pass at the slot, so overlap is judged at the slot itself."""
        due, won = self._claim_due(slot, skip_busy=True)
        self._prepared = {task.id: task for task in due}
        self._prepared_rows = [row for row in won if row.status is ExecutionStatus.SCHEDULED]
        self._alert_final(won, self._prepared, slot)
        return PassReport(due=len(due), claimed=len(won))

    def begin_prepared(self, slot: datetime) -> StartPlan:
        """A moment before ``slot``: which of the rows ``prepare`` claimed will start at it (read
        from the claim, not queried again; overlap judged on the runs live now), begun (``begin``,
        the compare-and-swap) as of the slot, so that at the slot only their spawns remain."""
        known, self._prepared = self._prepared, {}
        rows, self._prepared_rows = self._prepared_rows, []
        with self.recorder.paused():
            return self.starts.begin(self.starts.choose(slot, known=known, rows=rows), slot)

    def start_prepared(self, now: datetime, begun: StartPlan | None = None) -> int:
        """At the slot: spawn what ``begin_prepared`` began (or choose, begin and spawn now what
        ``prepare`` claimed). Whatever else may start is left to the pass that follows."""
        with self.recorder.paused():
            return self.starts.spawn(begun if begun is not None else self.begin_prepared(now))

    def start_pending(
        self, now: datetime, *, only: set[int] | None = None, known: Mapping[int, Task] | None = None
    ) -> int:
        """Start the ``scheduled`` rows that may start now; returns how many were started.

        ``known`` holds tasks just read (this pass's due tasks), so they are not read again.
        """
        return self.starts.spawn(self.starts.begin(self.starts.choose(now, only=only, known=known), now))

    def _claim_limit(self, now: datetime) -> int:
        """How many due tasks this pass may take: alone, all of them (up to a bound); beside other
        live runners, an even share of what is due, and no more than the room it has."""
        runners = self.cluster.runners
        if runners <= 1:
            return CLAIM_LIMIT_ALONE
        due = self.store.slots.count_due(now, node=self.node, tags=self.tags)
        room = self.max_parallel - len(self.supervisor.running()) - len(self.starts.claimed_waiting())
        return max(0, min(math.ceil(due / runners), room))

    def _claim_due(self, now: datetime, *, skip_busy: bool) -> tuple[list[Task], list[Execution]]:
        limit = self._claim_limit(now)
        if limit <= 0:
            self.more_due = False  # no room: the others take what is due, or a later pass does
            return [], []
        busy: set[int] = set()

        def plan(tasks: Sequence[Task]) -> tuple[list[SlotClaim], list[Move]]:
            # The live rows of the due tasks only (none read when nothing is due): running rows
            # and rows waiting decide overlap and catch-up; with ``skip_busy`` those tasks wait.
            ended = self.ledger.ended_unwritten()
            live = [
                row
                for row in self.store.executions.live_brief(task_ids=(task.id for task in tasks))
                if row.id not in ended
            ]
            if skip_busy:
                busy.update(row.task_id for row in live)
            return plan_claims(
                [task for task in tasks if task.id not in busy],
                now,
                activity={} if skip_busy else activity_of(live),
                schedule_of=self._schedules.of,
                max_missed_rows=self.settings.runner_max_missed_rows,
            )

        taken = self.store.slots.claim_due(
            now, node=self.node, tags=self.tags, limit=limit, token=new_token(), plan=plan
        )
        self.more_due = taken.more
        self._remember_claimed(taken.won)
        return [task for task in taken.tasks if task.id not in busy], taken.won

    def _alert_final(self, won: Sequence[Execution], tasks: Mapping[int, Task], now: datetime) -> None:
        final = [(tasks[row.task_id], row) for row in won if row.status.is_final and row.task_id in tasks]
        if final:
            self.ledger.alerts.finished(final, now)

    def schedule_of(self, task: Task) -> Schedule | None:
        return self._schedules.of(task)

    def _claim(self, claims: list[SlotClaim], now: datetime) -> list[Execution]:
        if not claims:
            return []
        won = self.store.executions.claim(claims, node=self.node, token=new_token(), now=now)
        self._remember_claimed(won)
        return won

    def _remember_claimed(self, won: Sequence[Execution]) -> None:
        self.starts.remember_claimed(won)
        for row in won:
            log.debug("claimed %s", row.status, extra={"task": row.task_name, "execution": row.id, "action": "claim"})

    def may_run_here(self, task: Task) -> bool:
        return task.spec.runs_on(self.node, self.tags)

    # -- recording --------------------------------------------------------------------------------

    def _on_exit(self, result: ProcessResult) -> None:
        """From the supervisor's thread: turn the result into a record for the recorder."""
        failpoints.hit("after_exit_before_record")
        context = self.ledger.get(result.execution_id)
        if context is None:
            log.warning("result of an unknown run", extra={"execution": result.execution_id, "action": "record"})
            return
        spec = context.task.spec
        self.ledger.submit(context, outcome_of(result, spec.fatal_exit_codes, retry_unknown=spec.retry_unknown_outcome))
        self.starts.on_run_ended(len(self.supervisor.running()) - 1, self.wake.set)  # this one is still in it

    def _due_retries(self, now: datetime | None) -> list[SlotClaim]:
        due = self.retries.take_due(now)
        if not due:
            return []
        tasks = self.store.tasks.by_ids(r.task_id for r in due)
        claims = []
        for retry in due:
            task = tasks.get(retry.task_id)
            if task is None or not task.active:
                log.info("retry dropped: the task was removed or paused", extra={"action": "retry"})
                continue
            claims.append(retry.claim())
        return claims

    def persist_retries(self, now: datetime) -> int:
        """Claim every remembered retry now, so a runner that starts later runs them (on stop)."""
        return len(self._claim(self._due_retries(None), now))

    # -- clock ------------------------------------------------------------------------------------

    def note_clock_jump(self, reading: ClockReading) -> None:
        """From the lease keeper: the reference clock stepped (the loop acts on it)."""
        with self._jumps_lock:
            self._jumps.append(reading)
        self.wake.set()

    def take_clock_jumps(self) -> list[ClockReading]:
        with self._jumps_lock:
            jumps, self._jumps = self._jumps, []
        return jumps

    # -- state for the loops ----------------------------------------------------------------------

    def next_retry_at(self) -> datetime | None:
        return self.retries.next_due()

    def has_work(self) -> bool:
        """Runs going, results unwritten, retries remembered or claimed rows still waiting."""
        return (
            bool(self.starts.claimed_waiting())
            or len(self.retries) > 0
            or bool(self.supervisor.running())
            or self.recorder.busy
        )

    def supervised(self) -> dict[int, RunContext]:
        """The runs this engine answers for (started, adopted or ended, not yet written)."""
        return self.ledger.snapshot()

    def adopt_context(self, row: Execution, task: Task) -> RunContext:
        """Register an adopted run before the supervisor takes it (its results come back to us)."""
        return self.ledger.open(row, task, row.lease_token, attached=True)

    def forget(self, execution_id: int) -> None:
        self.ledger.forget(execution_id)

    def end_rows(self, ended: Sequence[tuple[Execution, Task, Outcome]]) -> None:
        """Record outcomes of rows this engine did not run (recovery); see ``RunLedger.end_rows``."""
        self.ledger.end_rows(ended)

    def stop(self, grace: float) -> None:
        """Let runs finish for up to ``grace`` s, kill the rest, record everything, settle the rows
        claimed but not started, keep retries; the lease keeper renews until the end."""
        try:
            self.supervisor.stop(grace)
            self.recorder.flush(30.0, or_spooled=True)
            try:
                self.settle_waiting_claims(self.clock.now())
                self.persist_retries(self.clock.now())
            except Exception:
                log.exception("could not settle claimed runs and pending retries", extra={"action": "stop"})
            self.recorder.stop(5.0)
        finally:
            self.lease_keeper.stop()
            if self._unwatch is not None:
                self._unwatch()

    def settle_waiting_claims(self, now: datetime) -> None:
        """Rows this runner claimed and never started (DESIGN 9, issue of a runner that stops):
        left to the other live runners when there are any (released: any of them starts them at
        once); else scheduled slots are recorded ``cancelled`` (the next runner plans the next
        slot by the catch-up policy), while manual runs and retries stay queued for the next one."""
        waiting = self.starts.claimed_waiting()
        if not waiting:
            return
        rows = [row for row in self.store.executions.by_ids(waiting) if row.status is ExecutionStatus.SCHEDULED]
        if self.cluster.others:
            released = self.store.executions.release([row.id for row in rows])
            log.info("left %d claimed run(s) to the other runners", released, extra={"action": "stop"})
            return
        slots = [row.id for row in rows if not row.trigger.is_request]
        cancelled = self.store.leases.cancel_waiting(slots, reason=SHUTDOWN_REASON, now=now)
        released = self.store.executions.release([row.id for row in rows if row.trigger.is_request])
        if cancelled or released:
            log.info(
                "stopping: %d claimed slot(s) cancelled, %d queued run(s) kept for the next runner",
                len(cancelled), released, extra={"action": "stop"},
            )  # fmt: skip
