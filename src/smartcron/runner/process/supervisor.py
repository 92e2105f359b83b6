"""The supervisor: starts task processes and watches all of them from one thread.

The runner spawns (or, after a restart, adopts) processes and hears back through ``on_exit``, once
per run. This layer knows nothing about the database or schedules. Starting a process happens in
the caller's thread (:mod:`~smartcron.runner.process.launch`); watching it happens in the supervisor's
thread (:mod:`~smartcron.runner.process.watcher`), which callers reach through an inbox and an eventfd.
"""

from __future__ import annotations

import itertools
import logging
import os
import resource
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from smartcron.clock import Clock
from smartcron.runner.process.launch import (
    LaunchFailure,
    PreparedLaunch,
    ProcessSpec,
    close_inherited_descriptors,
    conclude,
    prepare,
)
from smartcron.runner.process.procinfo import find_processes_of, kill_group, process_alive, process_start_time
from smartcron.runner.process.spawner import Spawner, SpawnerGoneError, SpawnStream
from smartcron.runner.process.supervised import ProcessResult, SupervisedRun, failure_result
from smartcron.runner.process.watcher import ProcessWatcher, guarded, open_verified_pidfd

__all__ = [
    "ProcessResult",
    "ProcessSpec",
    "SpawnBatch",
    "Spawned",
    "Supervisor",
    "find_processes_of",
    "kill_group",
    "process_alive",
    "process_start_time",
]

log = logging.getLogger(__name__)

FILES_PER_RUN = 3
"""Descriptors a spawned run holds while it runs: its pidfd, its output pipe and its log file."""
FILES_KEPT = 256
"""Descriptors left for everything else: the database, the runner's own logs, leftovers of a
group being ended (one pidfd each), ``/proc`` reads."""


def open_file_limit() -> int:
    """This process's soft limit on open files. Not raised here: task processes inherit it, and
    many programs misbehave with a huge one (they loop over every possible descriptor, or use
    ``select``); whoever wants more runs at once raises it for the runner (``LimitNOFILE=`` in
    the systemd unit, ``ulimit -n``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@dataclass(frozen=True, slots=True)
class Spawned:
    execution_id: int
    pid: int  # 0 when the command could not start
    pgid: int
    proc_start: int | None  # None as ``spawn`` returns it; known when ``on_start`` reports it
    started_at: datetime


class SpawnBatch:
    """Processes started together (see :meth:`Supervisor.batch`)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor
        self.prepared: list[tuple[PreparedLaunch, datetime, float]] = []
        self.stream: SpawnStream | None = None
        self.started: list[Spawned] = []
        """Every process started, with its pid and start time: filled when the batch ends."""

    def spawn(self, spec: ProcessSpec) -> None:
        """Hand a task process to the spawner, which starts it while the next is prepared; it is
        watched once the batch ends. One that cannot start is reported through ``on_exit``.
        Raises as :meth:`Supervisor.spawn` does."""
        prepared = self._supervisor._prepare(spec)
        if prepared is not None:
            self.prepared.append(prepared)
            if self.stream is None:
                try:
                    self.stream = self._supervisor._spawner_for_spawning().stream()
                except SpawnerGoneError as exc:  # could not even be started again: none of these start
                    self.stream = SpawnStream(self._supervisor._spawner, gone=exc)
            self.stream.send(prepared[0].request)


def _start_time(pid: int) -> int | None:
    # Not watched yet, so not reaped: its /proc entry is there even if it has exited.
    try:
        return process_start_time(pid)
    except OSError:  # out of descriptors, say: the start time is only for recognising it later
        return None


class Supervisor:
    """Runs and watches task processes. ``spawn``, ``kill``, ``adopt`` are safe from any thread.

    ``on_exit`` is called once per run, from the supervisor's own thread, after the run's log is
    flushed and closed. Keep it short (hand the result to a queue): while it runs, no other output
    is read and no deadline fires. Many processes are best started in a ``batch``.

    Every task's environment carries ``SMARTCRON_EXECUTION_ID`` and ``SMARTCRON_TASK`` (added when
    the caller's env lacks them): :func:`find_processes_of` relies on them. Nothing else in the
    process may reap children with ``os.wait()`` or ``waitpid(-1)``: exit statuses belong to the
    supervisor. Timeouts follow ``clock.monotonic()``.
    """

    def __init__(self, *, clock: Clock, on_exit: Callable[[ProcessResult], None]) -> None:
        self._clock = clock
        self._on_exit = on_exit
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._watcher = ProcessWatcher(clock=clock, wake_fd=self._wake_fd, deliver=self._deliver)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # Guarded by _lock:
        self._live: set[int] = set()  # spawned or adopted, not yet reported
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._accepting = False
        self._stopping = False
        self._finishing = False
        self._thread: threading.Thread | None = None
        # Supervisor thread only: kills that arrived before the spawn they follow was registered.
        self._early_kills: dict[int, str] = {}
        self._spawner = Spawner()
        self._spawner_lock = threading.Lock()
        self._seq = itertools.count(1)
        self.max_runs = 1 << 20
        """How many runs can be watched at once: set by ``start`` from the open-file limit."""

    def start(self) -> None:
        """Start the supervising thread."""
        with self._lock:
            if self._thread is not None or self._stopping:
                raise RuntimeError("the supervisor was already started")
            self._accepting = True
            self._thread = threading.Thread(target=self._loop, name="smartcron-supervisor", daemon=True)
        self.max_runs = max(1, (open_file_limit() - FILES_KEPT) // FILES_PER_RUN)
        close_inherited_descriptors()
        self._spawner.start()
        self._watcher.watch_spawner(self._spawner)
        self._thread.start()

    @contextmanager
    def batch(self) -> Iterator[SpawnBatch]:
        """Start many processes: ``batch.spawn`` prepares each one; when the block ends the spawner
        starts them all (a few requests in flight at a time), each one's log is opened and start
        time read in the calling thread, and the supervisor thread takes them all at once
        (``batch.started``). Meanwhile a run's output waits in its pipe."""
        batch = SpawnBatch(self)
        try:
            yield batch
        finally:
            batch.started = self._complete(batch.prepared, batch.stream)

    def spawn(self, spec: ProcessSpec) -> Spawned:
        """Start one task process (a batch of one). A command that cannot start returns pid 0 and
        is reported soon.

        Raises RuntimeError before ``start()`` or once ``stop()`` has begun, ValueError when the
        execution id is already running.
        """
        with self.batch() as batch:
            batch.spawn(spec)
        if batch.started:
            return batch.started[0]
        return Spawned(spec.execution_id, 0, 0, None, self._clock.now())

    def _prepare(self, spec: ProcessSpec) -> tuple[PreparedLaunch, datetime, float] | None:
        """Everything before the spawn; what cannot start is reported (None returned)."""
        self._reserve(spec.execution_id)
        started_at, started_mono = self._clock.now(), self._clock.monotonic()
        try:
            prepared = prepare(spec, next(self._seq))
        except BaseException:
            self._release(spec.execution_id)
            raise
        if isinstance(prepared, LaunchFailure):
            self._report_failure(spec.execution_id, started_at, prepared)
            return None
        return prepared, started_at, started_mono

    def _report_failure(self, execution_id: int, started_at: datetime, failure: LaunchFailure) -> None:
        result = failure_result(execution_id, started_at, failure)
        self._post(lambda: self._deliver(result))

    def _complete(
        self, prepared: list[tuple[PreparedLaunch, datetime, float]], stream: SpawnStream | None
    ) -> list[Spawned]:
        if stream is None:
            return []
        answers = {answer.seq: answer for answer in stream.finish()}
        if stream.gone is not None:
            log.error("%s; %d run(s) not started", stream.gone, len(prepared) - len(answers), extra={"action": "start"})
        runs: list[SupervisedRun] = []
        started: list[Spawned] = []
        try:
            for item, started_at, started_mono in prepared:
                spec = item.spec
                launched = conclude(item, answers.get(item.request.seq))
                if isinstance(launched, LaunchFailure):
                    self._report_failure(spec.execution_id, started_at, launched)
                    continue
                run = SupervisedRun(
                    execution_id=spec.execution_id,
                    task_name=spec.task_name,
                    pid=launched.pid,
                    pgid=launched.pid,  # a new session: the leader's pid is the group id
                    started_at=started_at,
                    started_mono=started_mono,
                    kill_grace=spec.kill_grace,
                    pidfd=None,
                    seq=launched.seq,
                    timeout_mono=None if spec.timeout is None else started_mono + spec.timeout,
                    pipe_fd=launched.pipe_fd,
                    output=launched.output,
                    spawner_peak_kb=self._spawner.hwm_kb,
                )
                runs.append(run)
                launched.output.open_log()  # before the supervisor reads any output: the header comes first
                started.append(Spawned(run.execution_id, run.pid, run.pgid, _start_time(run.pid), run.started_at))
                log.debug("started pid %s", run.pid, extra={"task": run.task_name, "execution": run.execution_id,
                                                            "action": "start"})  # fmt: skip
        finally:  # whatever failed above, every process started is watched (and so reported)
            if runs:
                self._post(lambda: self._watch_all(runs))
        return started

    def _spawner_for_spawning(self) -> Spawner:
        """The spawner, started again first if it died (the supervisor thread ended its runs)."""
        with self._spawner_lock:
            if not self._spawner.running:
                log.warning("the spawner process had died; starting it again", extra={"action": "start"})
                self._spawner.forget()
                self._spawner.start()
                spawner = self._spawner
                self._post(lambda: self._watcher.watch_spawner(spawner))
            return self._spawner

    def kill(self, execution_id: int, reason: str) -> bool:
        """End a run: SIGTERM to its group, SIGKILL after its grace. False when no such run is live."""
        with self._lock:
            if execution_id not in self._live:
                return False
        self._post(lambda: self._kill(execution_id, reason))
        return True

    def adopt(
        self,
        execution_id: int,
        *,
        pid: int,
        pgid: int,
        proc_start: int | None,
        started_at: datetime,
        timeout_at: datetime | None,
        kill_grace: float,
    ) -> bool:
        """Supervise a live process group this runner did not spawn (after a runner restart).

        Not our child: no exit status or rusage (exit_code None), no output (its pipe died with the
        old runner). False when the leader is gone or its pid now names another process; the caller
        then looks for leftovers with :func:`find_processes_of`.
        """
        if pgid <= 1 or pgid == os.getpgrp():
            log.warning("not adopting process group %s", pgid, extra={"execution": execution_id})
            return False
        self._reserve(execution_id)
        pidfd = open_verified_pidfd(pid, pgid, proc_start)
        if pidfd is None:
            self._release(execution_id)
            return False
        now, mono = self._clock.now(), self._clock.monotonic()
        run = SupervisedRun(
            execution_id=execution_id,
            task_name="",
            pid=pid,
            pgid=pgid,
            started_at=started_at,
            started_mono=mono - (now - started_at).total_seconds(),
            kill_grace=kill_grace,
            pidfd=pidfd,
            timeout_mono=None if timeout_at is None else mono + (timeout_at - now).total_seconds(),
        )
        self._post(lambda: self._watch(run))
        return True

    @property
    def spawner_peak_kb(self) -> int:
        """The spawner's own peak memory: every run's reported peak is at least this."""
        return self._spawner.hwm_kb

    def running(self) -> set[int]:
        """Execution ids spawned or adopted and not yet reported through ``on_exit``."""
        with self._lock:
            return set(self._live)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every run has been reported; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._live, timeout)

    def stop(self, grace: float) -> None:
        """Refuse new runs, wait up to ``grace`` for running ones, kill the rest (reason
        "shutdown"), report everything, and end the thread."""
        with self._lock:
            thread = self._thread
            if thread is threading.current_thread():
                raise RuntimeError("stop() cannot be called from on_exit")
            if self._stopping:
                return
            self._stopping = True
            self._accepting = False
        if thread is not None:
            if not self.wait_idle(grace):
                for execution_id in self.running():
                    self.kill(execution_id, "shutdown")
                self.wait_idle()
            with self._lock:
                self._finishing = True
            self._post(lambda: None)
            thread.join()
        self._watcher.close()
        self._spawner.close()
        os.close(self._wake_fd)

    # ----- any thread -----

    def _reserve(self, execution_id: int) -> None:
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the supervisor is not running")
            if execution_id in self._live:
                raise ValueError(f"execution {execution_id} is already running")
            self._live.add(execution_id)

    def _release(self, execution_id: int) -> None:
        with self._lock:
            self._live.discard(execution_id)
            if not self._live:
                self._idle.notify_all()

    def _post(self, action: Callable[[], None]) -> None:
        with self._lock:
            self._inbox.append(action)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            os.eventfd_write(self._wake_fd, 1)

    # ----- the supervisor thread -----

    def _loop(self) -> None:
        while True:
            with self._lock:
                work_waiting = bool(self._inbox)
            try:
                self._watcher.handle_events(block=not work_waiting)
            except Exception:  # never let the thread die: every live run would go unreported
                log.exception("supervisor error", extra={"action": "supervise"})
            with self._lock:
                actions = list(self._inbox)
                self._inbox.clear()
                self._wake_pending = False
            for action in actions:
                guarded(action)
            with self._lock:
                if self._finishing and not self._inbox and not self._watcher.watching:
                    return

    def _watch_all(self, runs: list[SupervisedRun]) -> None:
        for run in runs:
            guarded(self._watch, run)

    def _watch(self, run: SupervisedRun) -> None:
        self._watcher.watch(run)
        reason = self._early_kills.pop(run.execution_id, None)
        if reason is not None:
            self._watcher.kill(run.execution_id, reason)

    def _kill(self, execution_id: int, reason: str) -> None:
        if not self._watcher.kill(execution_id, reason):
            with self._lock:
                still_coming = execution_id in self._live
            if still_coming:  # kill() overtook the registration of the spawn it follows
                self._early_kills[execution_id] = reason

    def _deliver(self, result: ProcessResult) -> None:
        try:
            self._on_exit(result)
        except Exception:
            log.exception("on_exit failed", extra={"execution": result.execution_id, "action": "report"})
        finally:
            self._early_kills.pop(result.execution_id, None)
            self._release(result.execution_id)
