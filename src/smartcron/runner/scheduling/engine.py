"""One scheduling pass and the recording of its runs, shared by the daemon, ``tick`` and manual runs.

A pass (DESIGN 3): read the due tasks, plan their slots (``domain.planning``), decide overlap
(``domain.overlap``), claim every row with one batched insert (the unique slot key makes a lost race
harmless), start the ``scheduled`` rows that may start (``begin`` compare-and-swap, spawn, record
the pids), and move each task's ``next_run_at`` forward (compare-and-swap). Rows claimed but not
started (queued behind a running run, a catch-up chain) stay ``scheduled`` and any runner starts
them later. Ended runs come back from the supervisor's thread and go to the engine's
``RunLedger`` (:mod:`~smartcron.runner.scheduling.ledger`), whose recorder thread writes them; a recoverable
failure is remembered as a retry due at its backoff time and claimed like a slot when due, so no
retry runs twice either.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.overlap import REPLACED_REASON, TaskActivity, choose_starts
from smartcron.domain.schedule import Schedule
from smartcron.domain.task import Task
from smartcron.errors import StoreError
from smartcron.runner.process.env import process_spec
from smartcron.runner.process.procinfo import kill_group
from smartcron.runner.process.supervisor import ProcessResult, SpawnBatch, Spawned, Supervisor, open_file_limit
from smartcron.runner.scheduling.claims import Move, Schedules, activity_of, plan_claims
from smartcron.runner.scheduling.ledger import RunContext, RunLedger
from smartcron.runner.scheduling.outcomes import failed_to_start, killed, outcome_of
from smartcron.runner.scheduling.retries import RetryBook
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim, Start

log = logging.getLogger(__name__)

PENDING_LIMIT = 1000
PENDING_LEAST = 64
ROOM_TO_WAKE = 0.5
"""When runs wait for room (``runner.max_parallel``), the loop is woken once this share of it is free."""


def new_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class StartPlan:
    """Rows chosen to start (by id, in start order) and the tasks they belong to."""

    rows: Mapping[int, Execution]
    tasks: Mapping[int, Task]


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
        self._base_env = dict(base_env)
        self._cwd = cwd
        self._lock = threading.Lock()
        self.retries = RetryBook(rng or random.Random())
        self.ledger = RunLedger(store, settings, clock=clock, retries=self.retries, wake=self.wake)
        self.recorder = self.ledger.recorder
        self._claimed_waiting: set[int] = set()
        self._schedules = Schedules(settings.timezone)
        self._prepared: dict[int, Task] = {}
        self._prepared_rows: list[Execution] = []
        self._wake_when_running: int | None = None  # wake the loop once this few runs remain
        self.supervisor = Supervisor(clock=clock, on_exit=self._on_exit)

    def start(self) -> None:
        self.supervisor.start()
        self.recorder.start()
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

    # -- a pass -----------------------------------------------------------------------------------

    def run_pass(self, now: datetime, *, plan: bool = True, only: set[int] | None = None) -> PassReport:
        """Plan due slots (unless ``plan`` is False), claim them and due retries, start what may start.

        ``only`` restricts starting to those execution ids (a manual run done in-process).
        """
        due: list[Task] = self.store.tasks.due(now, node=self.node, tags=self.tags) if plan else []
        claims, moves = self._plan(due, now)
        claims += self._due_retries(now)
        won = self._claim(claims, now)
        known, self._prepared = self._prepared | {task.id: task for task in due}, {}
        with self.recorder.paused():
            started = self.start_pending(now, only=only, known=known)
            if moves:
                self.store.tasks.advance(moves)
        self._alert_final(won, known, now)  # missed, skipped: after the starts
        return PassReport(due=len(due), claimed=len(won), started=started)

    def prepare(self, slot: datetime) -> PassReport:
        """Plan and claim, just ahead of ``slot``, what falls due at it, so that at the slot only
        ``start_prepared`` remains: how the daemon starts a crowded instant on time. Tasks with a
        live run are left to the pass at the slot, so overlap is judged at the slot itself."""
        live = self.store.executions.live()
        busy = {row.task_id for row in live}
        due = [task for task in self.store.tasks.due(slot, node=self.node, tags=self.tags) if task.id not in busy]
        claims, moves = self._plan(due, slot, activity={})
        won = self._claim(claims, slot)
        if moves:
            self.store.tasks.advance(moves)
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
            return self.begin_chosen(self.choose(slot, known=known, rows=rows), slot)

    def start_prepared(self, now: datetime, begun: StartPlan | None = None) -> int:
        """At the slot: spawn what ``begin_prepared`` began (or choose, begin and spawn now what
        ``prepare`` claimed). Whatever else may start is left to the pass that follows."""
        with self.recorder.paused():
            return self.spawn_begun(begun if begun is not None else self.begin_prepared(now))

    def _alert_final(self, won: Sequence[Execution], tasks: Mapping[int, Task], now: datetime) -> None:
        final = [(tasks[row.task_id], row) for row in won if row.status.is_final and row.task_id in tasks]
        if final:
            self.ledger.alerts.finished(final, now)

    def schedule_of(self, task: Task) -> Schedule | None:
        return self._schedules.of(task)

    def _plan(
        self, due: Sequence[Task], now: datetime, *, activity: Mapping[int, TaskActivity] | None = None
    ) -> tuple[list[SlotClaim], list[Move]]:
        if not due:
            return [], []
        return plan_claims(
            due,
            now,
            activity=activity_of(self.store.executions.live()) if activity is None else activity,
            schedule_of=self._schedules.of,
            max_missed_rows=self.settings.runner_max_missed_rows,
        )

    def _claim(self, claims: list[SlotClaim], now: datetime) -> list[Execution]:
        if not claims:
            return []
        won = self.store.executions.claim(claims, node=self.node, token=new_token(), now=now)
        with self._lock:
            self._claimed_waiting.update(row.id for row in won if row.status is ExecutionStatus.SCHEDULED)
        for row in won:
            log.debug("claimed %s", row.status, extra={"task": row.task_name, "execution": row.id, "action": "claim"})
        return won

    # -- starting ---------------------------------------------------------------------------------

    def may_run_here(self, task: Task) -> bool:
        return task.spec.runs_on(self.node, self.tags)

    def start_pending(
        self, now: datetime, *, only: set[int] | None = None, known: Mapping[int, Task] | None = None
    ) -> int:
        """Start the ``scheduled`` rows that may start now; returns how many were started.

        ``known`` holds tasks just read (this pass's due tasks), so they are not read again.
        """
        return self.start_chosen(self.choose(now, only=only, known=known), now)

    def choose(
        self,
        now: datetime,
        *,
        only: set[int] | None = None,
        known: Mapping[int, Task] | None = None,
        rows: Sequence[Execution] | None = None,
    ) -> StartPlan:
        """Which ``scheduled`` rows may start at ``now`` (the overlap policy applied to the runs live
        now; a ``replace`` asks for the running run to be killed). ``rows`` limits the choice to
        those rows (just claimed), else every pending row counts."""
        every_row = rows is None
        capacity = self.max_parallel - len(self.supervisor.running())
        seen_all = True  # every waiting row was read (not only the oldest few)
        if rows is None:
            # Twice what may start is read: rows of busy tasks wait, others behind them may go.
            limit = min(PENDING_LIMIT, max(PENDING_LEAST, 2 * capacity))
            rows = self.store.executions.pending(limit=limit)
            seen_all = len(rows) < limit
        # A slot claimed ahead of its time (``prepare``) waits for it; queued runs start at once.
        pending = [row for row in rows if row.scheduled_for <= now or row.trigger in (Trigger.MANUAL, Trigger.RETRY)]
        if only is not None:
            pending = [row for row in pending if row.id in only]
        if not pending:
            if every_row and seen_all:
                with self._lock:
                    self._claimed_waiting.clear()
            return StartPlan({}, {})
        running_rows = self.store.executions.live(status=ExecutionStatus.RUNNING)
        tasks = dict(known or {})
        policies = {tid: task.spec.overlap for tid, task in tasks.items() if self.may_run_here(task)}
        # Only the policies of the other tasks now; in full only those of the rows chosen.
        unknown = {row.task_id for row in pending} - tasks.keys()
        policies.update(self.store.tasks.overlap_policies(unknown, node=self.node, tags=self.tags))
        choice = choose_starts(
            pending, Counter(row.task_id for row in running_rows), policies, capacity=max(0, capacity)
        )
        for task_id in choice.replace:
            self._replace([row for row in running_rows if row.task_id == task_id], now)
        with self._lock:
            if every_row and seen_all:
                self._claimed_waiting &= set(choice.waiting)
            else:  # other waiting rows were not looked at
                self._claimed_waiting -= set(choice.start)
            if choice.waiting and len(choice.start) >= capacity:
                # Runs wait for room: take them as soon as half the room is free, not only at the
                # next recorded batch (a burst then keeps the runner busy, not waiting on itself).
                self._wake_when_running = int(self.max_parallel * ROOM_TO_WAKE)
        by_id = {row.id: row for row in pending}
        tasks.update(self.store.tasks.by_ids({by_id[eid].task_id for eid in choice.start} - tasks.keys()))
        # A task removed since its policy was read: its row waits (and goes with the task).
        return StartPlan({eid: by_id[eid] for eid in choice.start if by_id[eid].task_id in tasks}, tasks)

    def start_chosen(self, plan: StartPlan, now: datetime) -> int:
        """Begin the chosen rows and spawn the ones begun; returns how many started."""
        return self.spawn_begun(self.begin_chosen(plan, now))

    def begin_chosen(self, plan: StartPlan, now: datetime) -> StartPlan:
        """Move the chosen rows to ``running`` under our lease (compare-and-swap: only those still
        waiting); the plan of the rows this runner now must spawn."""
        if not plan.rows:
            return plan
        lease_until = now + timedelta(seconds=self.settings.runner_lease_seconds)
        began = self.store.executions.begin(
            list(plan.rows), node=self.node, token=self.lease_token, now=now, lease_until=lease_until
        )
        return StartPlan({eid: plan.rows[eid] for eid in began}, plan.tasks)

    def spawn_begun(self, begun: StartPlan) -> int:
        self._spawn_all([(row, begun.tasks[row.task_id]) for row in begun.rows.values()])
        return len(begun.rows)

    def _spawn_all(self, runs: Iterable[tuple[Execution, Task]]) -> None:
        """Spawn one run after another, then write all their pids at once: the pids (with the
        start times the supervisor reads when the batch ends) are in the rows when the pass
        returns, and writing them does not hold up the next spawn. A runner that dies in between
        leaves running rows without a pid, whose processes recovery finds by their environment."""
        contexts: dict[int, RunContext] = {}
        with self.supervisor.batch() as batch:
            for execution, task in runs:
                context = self.ledger.open(execution, task, self.lease_token)
                if self._spawn(batch, context):
                    contexts[execution.id] = context
        if contexts:
            self._attach(contexts, batch.started)
            log.info("started %d run(s)", len(contexts), extra={"action": "start"})  # each: DEBUG, supervisor

    def _spawn(self, batch: SpawnBatch, context: RunContext) -> bool:
        """True when a process started, False when the run ended here (could not start)."""
        execution, task = context.execution, context.task
        try:
            spec = process_spec(
                self.settings, task, execution, base_env=self._base_env, default_cwd=self._cwd, now=self.clock.now()
            )
            spawned = batch.spawn(spec)
        except Exception as exc:
            log.exception("cannot start", extra={"task": task.name, "execution": execution.id, "action": "start"})
            context.mark_attached()
            self.ledger.submit(context, failed_to_start(self.clock.now(), str(exc)))
            return False
        if not spawned.pid:
            context.mark_attached()  # nothing to attach: the supervisor reports the spawn error
            self.recorder.poke()
        return bool(spawned.pid)

    def _attach(self, contexts: Mapping[int, RunContext], started: Sequence[Spawned]) -> None:
        starts = [
            Start(s.execution_id, contexts[s.execution_id].task.id, s.started_at, s.pid, s.pgid, s.proc_start)
            for s in started
            if s.execution_id in contexts
        ]
        try:
            self.store.executions.attach(starts, token=self.lease_token)
        except (SQLAlchemyError, StoreError) as exc:
            # The processes run and are supervised; only their pids are not in the rows, which
            # recovery copes with.
            log.warning("cannot record %d pid(s): %s", len(starts), str(exc).splitlines()[0], extra={"action": "start"})
        for context in contexts.values():
            context.mark_attached()
        self.recorder.poke()

    def _replace(self, running: Sequence[Execution], now: datetime) -> None:
        """Kill running rows of a ``replace`` task; the waiting row starts once they are ended."""
        for row in running:
            if self.supervisor.kill(row.id, REPLACED_REASON):
                continue
            # Run by another process: end the row first (its owner then writes nothing), then signal.
            outcome = killed(row, now, REPLACED_REASON)
            written = self.store.executions.finish([Finish(row.id, row.task_id, outcome)], token=None)
            if written and row.node == self.node and row.pgid:
                _signal_group(row.pgid)
            log.info("replaced", extra={"task": row.task_name, "execution": row.id, "action": "kill"})

    # -- recording --------------------------------------------------------------------------------

    def _on_exit(self, result: ProcessResult) -> None:
        """From the supervisor's thread: turn the result into a record for the recorder."""
        context = self.ledger.get(result.execution_id)
        if context is None:
            log.warning("result of an unknown run", extra={"execution": result.execution_id, "action": "record"})
            return
        self.ledger.submit(context, outcome_of(result, context.task.spec.fatal_exit_codes))
        threshold = self._wake_when_running
        if threshold is not None and len(self.supervisor.running()) - 1 <= threshold:  # this one is still in it
            self._wake_when_running = None
            self.wake.set()

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

    # -- state for the loops ----------------------------------------------------------------------

    def next_retry_at(self) -> datetime | None:
        return self.retries.next_due()

    def has_work(self) -> bool:
        """Runs going, results unwritten, retries remembered or claimed rows still waiting."""
        with self._lock:
            remembered = bool(self._claimed_waiting)
        return remembered or len(self.retries) > 0 or bool(self.supervisor.running()) or self.recorder.busy

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
        """Let runs finish for up to ``grace`` s, kill the rest, record everything, keep retries."""
        self.supervisor.stop(grace)
        self.recorder.flush(30.0)
        try:
            self.persist_retries(self.clock.now())
        except Exception:
            log.exception("could not keep pending retries", extra={"action": "retry"})
        self.recorder.stop(5.0)


def _signal_group(pgid: int) -> None:
    with contextlib.suppress(ValueError):  # ValueError: our own group, never to be signalled
        kill_group(pgid, signal.SIGTERM)
