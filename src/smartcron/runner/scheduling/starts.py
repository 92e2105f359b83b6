"""Starting runs: which ``scheduled`` rows start now, moving them to ``running``, spawning them.

Three steps, each its own method so the daemon can do the first two a moment before a slot and
only spawn at the slot itself:

* :meth:`Starts.choose` applies the overlap policy (``domain.overlap.choose_starts``) to the
  waiting rows and the runs live now, within the free capacity. Rows of a task that is now
  disabled or paused are not started but ended ``cancelled`` (a manual run of a paused task still
  runs: somebody asked for it). A row another live node claimed is left to that node for
  ``FOREIGN_CLAIM_GRACE``, so a crowded slot is not started by whichever node passes first;
  after that anybody may start it (its node may have died).
* :meth:`Starts.begin` moves the chosen rows to ``running`` under this runner's lease
  (compare-and-swap: only rows still waiting), so only one runner spawns each.
* :meth:`Starts.spawn` starts the processes one after another and then writes all their pids at
  once (a runner that dies in between leaves running rows without a pid, whose processes
  recovery finds by their environment).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from smartcron import failpoints
from smartcron.domain.enums import ExecutionStatus, OverlapPolicy, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.overlap import REPLACED_REASON, choose_starts
from smartcron.domain.task import Task
from smartcron.errors import StoreError
from smartcron.runner.process.env import process_spec
from smartcron.runner.process.procinfo import kill_group
from smartcron.runner.process.supervisor import SpawnBatch, Spawned
from smartcron.runner.scheduling.ledger import RunContext
from smartcron.runner.scheduling.outcomes import failed_to_start, killed
from smartcron.store.executions import Finish, Start
from smartcron.store.tasks import TaskActivityFlags, activity_flags_of

if TYPE_CHECKING:
    from smartcron.runner.scheduling.engine import Engine

log = logging.getLogger(__name__)

PENDING_LIMIT = 1000
PENDING_MARGIN = 16
"""Waiting rows read beyond the free room: a few rows of busy tasks need not cost another page."""
ROOM_TO_WAKE = 0.5
"""When runs wait for room (``runner.max_parallel``), the loop is woken once this share of it is free."""
FOREIGN_CLAIM_GRACE = timedelta(seconds=2)
"""How long a row claimed by another live node is left for that node to start."""


@dataclass(frozen=True, slots=True)
class StartPlan:
    """Rows chosen to start (by id, in start order) and the tasks they belong to."""

    rows: Mapping[int, Execution]
    tasks: Mapping[int, Task]


class Starts:
    """The start path of one engine. Called from the scheduling loop only; ``waiting`` is read by
    other threads under ``lock``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.lock = threading.Lock()
        self.waiting: set[int] = set()
        """Rows this engine claimed that have not started yet."""
        self.wake_when_running: int | None = None
        """Wake the loop once this few runs remain (runs are waiting for room)."""

    # -- choosing ---------------------------------------------------------------------------------

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
        those rows (just claimed), ``only`` to those ids; else every pending row counts."""
        engine = self._engine
        every_row = rows is None and only is None
        capacity = engine.max_parallel - len(engine.supervisor.running())
        seen_all = True  # every waiting row was read (not only the oldest few)
        tasks = dict(known or {})
        fresh: dict[int, Task] = {}  # tasks read with the rows
        if rows is None:
            read, seen_all = self._read_pending(now, max(0, capacity), only)
            rows = [row for row, _ in read]
            fresh = {task.id: task for _, task in read}
            tasks.update(fresh)
        pending = [row for row in rows if self._may_start(row, now)]
        if only is not None:
            pending = [row for row in pending if row.id in only]
        if not pending:
            if every_row and seen_all:
                with self.lock:
                    self.waiting.clear()
            return StartPlan({}, {})
        flags = self._flags(pending, fresh)
        pending = self._drop_inactive(pending, flags, now)
        policies = {tid: flag.overlap for tid, flag in flags.items() if flag.runs_here}
        ended = engine.ledger.ended_unwritten()
        running = [
            row
            for row in engine.store.executions.live_brief(task_ids=policies.keys(), status=ExecutionStatus.RUNNING)
            if row.id not in ended
        ]
        choice = choose_starts(pending, Counter(row.task_id for row in running), policies, capacity=max(0, capacity))
        if choice.replace:
            replaced = engine.store.executions.live(status=ExecutionStatus.RUNNING, task_ids=choice.replace)
            for task_id in choice.replace:
                self._replace([row for row in replaced if row.task_id == task_id and row.id not in ended], now)
        with self.lock:
            if every_row and seen_all:
                self.waiting &= set(choice.waiting)
            else:  # other waiting rows were not looked at
                self.waiting -= set(choice.start)
            if choice.waiting and len(choice.start) >= capacity:
                # Runs wait for room: take them as soon as half the room is free, not only at the
                # next recorded batch (a burst then keeps the runner busy, not waiting on itself).
                self.wake_when_running = int(engine.max_parallel * ROOM_TO_WAKE)
        by_id = {row.id: row for row in pending}
        tasks.update(engine.store.tasks.by_ids({by_id[eid].task_id for eid in choice.start} - tasks.keys()))
        # A task removed since its policy was read: its row waits (and goes with the task).
        return StartPlan({eid: by_id[eid] for eid in choice.start if by_id[eid].task_id in tasks}, tasks)

    def _read_pending(
        self, now: datetime, room: int, only: set[int] | None
    ) -> tuple[list[tuple[Execution, Task]], bool]:
        """The waiting rows with their tasks, oldest first, one query per page: a page is the room
        plus a margin, and another page is read only while the rows read so far cannot fill the
        room (rows of busy tasks wait, others behind them may go). True when every row was read."""
        executions = self._engine.store.executions
        if only is not None:
            return executions.pending_with_tasks(limit=max(1, len(only)), ids=only), False
        page = min(PENDING_LIMIT, room + PENDING_MARGIN)
        # Tasks with a run here: their rows wait (unless ``allow``), so they do not fill the room.
        busy_here = {context.task.id for context in self._engine.supervised().values()}
        read: list[tuple[Execution, Task]] = []
        after: tuple[datetime, int] | None = None
        while True:
            found = executions.pending_with_tasks(limit=page, after=after)
            read += found
            if len(found) < page:
                return read, True
            # At most one run per task may start (except ``allow``): distinct tasks bound the starts.
            startable = {
                row.task_id
                for row, task in read
                if self._may_start(row, now) and (task.id not in busy_here or task.spec.overlap is OverlapPolicy.ALLOW)
            }
            if len(startable) >= room or len(read) >= PENDING_LIMIT:
                return read, False
            last = found[-1][0]
            after = (last.scheduled_for, last.id)

    def _flags(self, pending: Sequence[Execution], fresh: Mapping[int, Task]) -> dict[int, TaskActivityFlags]:
        """What choosing needs of each pending row's task (policy, active, runs here): from the
        tasks read with the rows, else (rows handed in, claimed a moment ago) read now."""
        engine = self._engine
        wanted = {row.task_id for row in pending}
        if not wanted <= fresh.keys():
            return engine.store.tasks.activity_flags(wanted, node=engine.node, tags=engine.tags)
        return {task_id: activity_flags_of(fresh[task_id], engine.node, engine.tags) for task_id in wanted}

    def _may_start(self, row: Execution, now: datetime) -> bool:
        # A slot claimed ahead of its time (``prepare``) waits for it; queued runs start at once.
        if row.scheduled_for > now and row.trigger not in (Trigger.MANUAL, Trigger.RETRY):
            return False
        engine = self._engine
        foreign = row.node is not None and row.node != engine.node and row.node in engine.cluster.others
        return not foreign or now - row.scheduled_for >= FOREIGN_CLAIM_GRACE

    def _drop_inactive(
        self, pending: list[Execution], flags: Mapping[int, TaskActivityFlags], now: datetime
    ) -> list[Execution]:
        """Cancel the waiting rows of tasks disabled or paused since they were queued."""
        stale: dict[str, list[int]] = {}
        for row in pending:
            flag = flags.get(row.task_id)
            if flag is None:
                continue
            if not flag.enabled:
                stale.setdefault("task disabled since the run was queued", []).append(row.id)
            elif flag.paused and row.trigger is not Trigger.MANUAL:
                stale.setdefault("task paused since the run was queued", []).append(row.id)
        if not stale:
            return pending
        ended: set[int] = set()
        for reason, ids in stale.items():
            ended |= self._engine.store.leases.cancel_waiting(ids, reason=reason, now=now)
            log.info("not started: %s (%d run(s))", reason, len(ids), extra={"action": "start"})
        with self.lock:
            self.waiting -= ended
        return [row for row in pending if row.id not in ended]

    # -- beginning and spawning -------------------------------------------------------------------

    def begin(self, plan: StartPlan, now: datetime) -> StartPlan:
        """Move the chosen rows to ``running`` under our lease (compare-and-swap: only those still
        waiting); the plan of the rows this runner now must spawn."""
        if not plan.rows:
            return plan
        engine = self._engine
        lease_until = now + timedelta(seconds=engine.settings.runner_lease_seconds)
        began = engine.store.executions.begin(
            list(plan.rows), node=engine.node, token=engine.lease_token, now=now, lease_until=lease_until
        )
        return StartPlan({eid: plan.rows[eid] for eid in began}, plan.tasks)

    def spawn(self, begun: StartPlan) -> int:
        if begun.rows:
            failpoints.hit("after_begin_before_spawn")
        self._spawn_all([(row, begun.tasks[row.task_id]) for row in begun.rows.values()])
        return len(begun.rows)

    def _spawn_all(self, runs: Iterable[tuple[Execution, Task]]) -> None:
        """Hand every run to the spawner in one batch, then write all their pids at once; a run
        that could not start is marked attached with the others (its failure is then written)."""
        engine = self._engine
        contexts: dict[int, RunContext] = {}
        with engine.supervisor.batch() as batch:
            for execution, task in runs:
                context = engine.ledger.open(execution, task, engine.lease_token)
                if self._spawn_one(batch, context):
                    contexts[execution.id] = context
        if contexts:
            failpoints.hit("after_spawn_before_attach")
            self._attach(contexts, batch.started)
            log.info("started %d run(s)", len(contexts), extra={"action": "start"})  # each: DEBUG, supervisor

    def _spawn_one(self, batch: SpawnBatch, context: RunContext) -> bool:
        """True when the run was handed to the spawner (a start that then fails is reported through
        the supervisor), False when it ended here (its process could not even be described)."""
        engine = self._engine
        execution, task = context.execution, context.task
        try:
            spec = process_spec(
                engine.settings,
                task,
                execution,
                base_env=engine.base_env,
                default_cwd=engine.cwd,
                now=engine.clock.now(),
            )
            batch.spawn(spec)
        except Exception as exc:
            log.exception("cannot start", extra={"task": task.name, "execution": execution.id, "action": "start"})
            context.mark_attached()
            engine.ledger.submit(context, failed_to_start(engine.clock.now(), str(exc)))
            return False
        return True

    def _attach(self, contexts: Mapping[int, RunContext], started: Sequence[Spawned]) -> None:
        engine = self._engine
        starts = [
            Start(s.execution_id, contexts[s.execution_id].task.id, s.started_at, s.pid, s.pgid, s.proc_start)
            for s in started
            if s.execution_id in contexts
        ]
        try:
            engine.store.executions.attach(starts, token=engine.lease_token)
        except (SQLAlchemyError, StoreError) as exc:
            # The processes run and are supervised; only their pids are not in the rows, which
            # recovery copes with.
            log.warning("cannot record %d pid(s): %s", len(starts), str(exc).splitlines()[0], extra={"action": "start"})
        for context in contexts.values():
            context.mark_attached()
        engine.recorder.poke()

    def _replace(self, running: Sequence[Execution], now: datetime) -> None:
        """Kill running rows of a ``replace`` task; the waiting row starts once they are ended."""
        engine = self._engine
        for row in running:
            if engine.supervisor.kill(row.id, REPLACED_REASON):
                continue
            # Run by another process: end the row first (its owner then writes nothing), then signal.
            outcome = killed(row, now, REPLACED_REASON)
            written = engine.store.executions.finish([Finish(row.id, row.task_id, outcome)], token=None)
            if written and row.node == engine.node and row.pgid:
                with contextlib.suppress(ValueError):  # ValueError: our own group, never to be signalled
                    kill_group(row.pgid, signal.SIGTERM)
            log.info("replaced", extra={"task": row.task_name, "execution": row.id, "action": "kill"})

    def remember_claimed(self, won: Iterable[Execution]) -> None:
        with self.lock:
            self.waiting.update(row.id for row in won if row.status is ExecutionStatus.SCHEDULED)

    def claimed_waiting(self) -> set[int]:
        with self.lock:
            return set(self.waiting)

    def on_run_ended(self, running_after: int, wake: Callable[[], None]) -> None:
        """From the supervisor's thread: wake the loop once enough room is free for waiting runs."""
        threshold = self.wake_when_running
        if threshold is not None and running_after <= threshold:
            self.wake_when_running = None
            wake()
