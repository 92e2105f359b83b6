"""``smartcron exec NAME --schedule EXPR -- COMMAND ...``: a line of an existing crontab, run as smartcron runs a task.

A team adopts smartcron one crontab line at a time: cron keeps starting the job on its own
schedule, and the line goes through ``smartcron exec``, which runs the command exactly as the
runner would (its own process group, timeout, limits, output captured to the task's log, a row in
the history with its outcome, alerts by the task's priority) and exits with the command's status.

The task is made on first use (origin ``exec``; smartcron never plans it: cron does). Its schedule
is the crontab line's, kept only to tell when a run is late or missed (the health check
``wrapped_tasks``). A task of the same name that smartcron schedules itself is refused: it would
run twice.

The database is not needed for the command to run: when it cannot be reached, the command runs
all the same and its record is kept on disk (``<data>/spool/unrecorded/``); the next smartcron
command that reaches the database (another ``exec``, a ``tick``, the daemon) writes it
(:func:`write_unrecorded`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task, TaskOrigin, TaskSpec
from smartcron.errors import StoreUnavailableError, UserError
from smartcron.runner.process.env import process_spec
from smartcron.runner.process.supervised import ProcessResult
from smartcron.runner.process.supervisor import Supervisor
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.outcomes import outcome_of
from smartcron.runner.scheduling.spool import outcome_from_json, outcome_to_json
from smartcron.runner.scheduling.starts import StartPlan
from smartcron.store import Store
from smartcron.store.executions import SlotClaim

log = logging.getLogger(__name__)

TIMEOUT_STATUS = 124
"""The exit status of a run that timed out (as ``timeout(1)`` gives)."""
UNKNOWN_STATUS = 1
WAIT_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Wrapped:
    """What the crontab line says about the job."""

    name: str
    command: tuple[str, ...]
    shell: bool
    schedule: str
    timezone: str | None = None
    category: str = "default"
    priority: int = 2
    timeout: int | None = None

    def spec(self) -> TaskSpec:
        fields: dict[str, Any] = {
            "name": self.name,
            "command": self.command,
            "shell": self.shell,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "category": self.category,
            "priority": self.priority,
            # Cron starts it again at its next line; a retry from smartcron would surprise.
            "retries": 0,
        }
        if self.timeout is not None:
            fields["timeout"] = self.timeout
        return TaskSpec(**fields)


def exit_status(status: ExecutionStatus, exit_code: int | None, signal_number: int | None) -> int:
    """The status ``smartcron exec`` exits with: the command's own, as a shell would give it."""
    if status is ExecutionStatus.SUCCESS:
        return 0
    if status is ExecutionStatus.TIMEOUT:
        return TIMEOUT_STATUS
    if exit_code is not None:
        return exit_code
    if signal_number is not None:
        return 128 + signal_number
    return UNKNOWN_STATUS


def wrapped_task(store: Store, wrapped: Wrapped, *, now: datetime) -> Task:
    """The task the line runs as: made on first use, kept in step with the line after that."""
    task = store.tasks.find(wrapped.name)
    wanted = wrapped.spec()
    if task is None:
        return store.tasks.add(wanted, now=now, next_run_at=None, origin=TaskOrigin.EXEC)
    if task.origin is not TaskOrigin.EXEC:
        raise UserError(
            f"task {wrapped.name!r} is scheduled by smartcron itself; wrapping a crontab line in it would run "
            "the job twice: give the line another name, or take it out of the crontab"
        )
    # The crontab line is the truth for what it runs and when; the rest stays as people set it.
    keep = replace(task.spec, command=wanted.command, shell=wanted.shell, schedule=wanted.schedule)
    if wrapped.timezone is not None:
        keep = replace(keep, timezone=wrapped.timezone)
    if keep != task.spec:
        task = store.tasks.update(keep, now=now, next_run_at=None)
    return task


class WrappedRun:
    """One ``smartcron exec``. ``stop`` (SIGTERM to exec) ends the command like a runner's shutdown."""

    def __init__(
        self,
        settings: Settings,
        wrapped: Wrapped,
        *,
        clock: Clock,
        base_env: Mapping[str, str],
        cwd: str,
    ) -> None:
        self.settings = settings
        self.wrapped = wrapped
        self.clock = clock
        self.base_env = dict(base_env)
        self.cwd = cwd
        self.stop = threading.Event()

    def run(self, connect: Any) -> int:
        """Run the command; ``connect()`` opens the store (raising StoreUnavailableError when it
        cannot). Returns the status to exit with."""
        try:
            store: Store = connect()
        except StoreUnavailableError as exc:
            log.warning("database unreachable (%s): running %s unrecorded", exc.message, self.wrapped.name,
                        extra={"task": self.wrapped.name, "action": "exec"})  # fmt: skip
            return self._run_unrecorded()
        write_unrecorded(store, self.settings)
        return self._run_recorded(store)

    def _run_recorded(self, store: Store) -> int:
        now = self.clock.now()
        task = wrapped_task(store, self.wrapped, now=now)
        engine = Engine(self.settings, store, clock=self.clock, role="exec", base_env=self.base_env, cwd=self.cwd)
        engine.start()
        grace = 0.0
        try:
            [row] = store.executions.claim(
                [SlotClaim(task.id, now, Trigger.SCHEDULE)], node=engine.node, token=engine.lease_token, now=now
            )
            begun = engine.starts.begin(StartPlan({row.id: row}, {task.id: task}), now)
            if begun.rows:
                engine.starts.spawn(begun)
                self._supervise(engine, row.id)
                if self.stop.is_set():
                    grace = self.settings.runner_shutdown_grace
            else:  # a runner of this node took the row first: it runs it; wait for its end
                self._wait_for(store, row.id)
        finally:
            engine.stop(grace=grace)
        return self._status_of(store, engine, row.id)

    def _supervise(self, engine: Engine, execution_id: int) -> None:
        from smartcron.runner.tick import supervise

        def done() -> bool:
            return not engine.supervisor.running() and engine.recorder.flush(0, or_spooled=True)

        supervise(engine, done=done, announced=False, only={execution_id}, stop=self.stop)

    def _wait_for(self, store: Store, execution_id: int) -> None:
        while not store.executions.get(execution_id).status.is_final and not self.stop.is_set():
            time.sleep(WAIT_POLL_SECONDS)

    def _status_of(self, store: Store, engine: Engine, execution_id: int) -> int:
        spool = engine.recorder.spool
        kept = {entry.execution_id: entry for entry in spool.load()} if spool is not None else {}
        if execution_id in kept:  # the database went away while it ran: the spool has the outcome
            outcome = kept[execution_id].outcome
            return exit_status(outcome.status, outcome.exit_code, outcome.signal)
        try:
            row = store.executions.get(execution_id)
        except Exception:  # the database went away after the write
            return UNKNOWN_STATUS
        return exit_status(row.status, row.exit_code, row.signal)

    def _run_unrecorded(self) -> int:
        """The command without the database: supervised all the same, its record kept on disk."""
        spec = self.wrapped.spec()
        now = self.clock.now()
        task = Task(id=0, spec=spec, origin=TaskOrigin.EXEC)
        execution = Execution(id=0, task_id=0, task_name=spec.name, scheduled_for=now, attempt=0,
                              trigger=Trigger.SCHEDULE, status=ExecutionStatus.RUNNING)  # fmt: skip
        results: list[ProcessResult] = []
        ended = threading.Event()

        def on_exit(result: ProcessResult) -> None:
            results.append(result)
            ended.set()

        supervisor = Supervisor(clock=self.clock, on_exit=on_exit)
        supervisor.start()
        try:
            supervisor.spawn(process_spec(self.settings, task, execution, base_env=self.base_env,
                                          default_cwd=self.cwd, now=now))  # fmt: skip
            while not ended.wait(0.2):
                if self.stop.is_set() and supervisor.kill(0, "shutdown"):
                    ended.wait()
        finally:
            supervisor.stop(self.settings.runner_shutdown_grace)
        outcome = outcome_of(results[0], spec.fatal_exit_codes)
        keep_unrecorded(self.settings, self.wrapped, scheduled_for=now, outcome=outcome)
        return exit_status(outcome.status, outcome.exit_code, outcome.signal)


def _unrecorded_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "spool" / "unrecorded"


def keep_unrecorded(settings: Settings, wrapped: Wrapped, *, scheduled_for: datetime, outcome: Outcome) -> Path:
    """Keep on disk, durably, a run that happened while the database was away."""
    directory = _unrecorded_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "wrapped": {
            "name": wrapped.name,
            "command": list(wrapped.command),
            "shell": wrapped.shell,
            "schedule": wrapped.schedule,
            "timezone": wrapped.timezone,
            "category": wrapped.category,
            "priority": wrapped.priority,
            "timeout": wrapped.timeout,
        },
        "scheduled_for": scheduled_for.isoformat(),
        "node": settings.node,
        "outcome": outcome_to_json(outcome),
    }
    path = directory / f"{int(scheduled_for.timestamp() * 1000)}-{uuid.uuid4().hex[:8]}.json"
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(json.dumps(document))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return path


def write_unrecorded(store: Store, settings: Settings) -> int:
    """Write the runs ``exec`` kept while the database was away (oldest first); returns how many."""
    directory = _unrecorded_dir(settings)
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError:
        return 0
    written = 0
    from smartcron.runner.scheduling.alert_hooks import AlertHook

    alerts = AlertHook(store, settings)
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            wrapped = Wrapped(**{**document["wrapped"], "command": tuple(document["wrapped"]["command"])})
            scheduled_for = datetime.fromisoformat(document["scheduled_for"])
            outcome = outcome_from_json(document["outcome"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("unreadable record of an unrecorded run %s: %s", path, exc, extra={"action": "record"})
            continue
        task = wrapped_task(store, wrapped, now=outcome.finished_at)
        row = store.executions.record_past(
            task.id, scheduled_for, Trigger.SCHEDULE, node=str(document.get("node") or settings.node), outcome=outcome
        )
        if row is not None:
            alerts.finished([(task, row)], outcome.finished_at)
            written += 1
        path.unlink(missing_ok=True)
    if written:
        log.info("wrote %d run(s) smartcron exec kept while the database was away", written, extra={"action": "record"})
    return written


def install_stop_handlers(run: WrappedRun) -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop_signal, lambda _signum, _frame: run.stop.set())
