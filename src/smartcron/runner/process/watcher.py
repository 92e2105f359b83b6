"""The supervisor thread's machinery: one selector over every pipe and pidfd, a heap of deadlines.

Used by one thread only (the :class:`~smartcron.runner.process.Supervisor`'s), so nothing here locks.
How a run ends (DESIGN 3.6): on timeout or kill, SIGTERM to the whole process group, SIGKILL after
the grace. The end of a run is its leader's exit, never EOF on the pipe (a grandchild may hold it
open forever): for a run the spawner started, the spawner's report that it reaped the leader
(status, peak RSS, CPU, from ``wait4``); for an adopted run, its pidfd becoming readable. Then what
is already in the pipe is read, the pipe closed, and whatever is left of the group gets SIGTERM,
then SIGKILL after the grace, each leftover watched through its own pidfd. The run is reported
once nothing in its group is alive, so no process outlives its run. If the spawner dies, every run
it started is ended the same way, and reported with its outcome unknown.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import signal
from collections.abc import Callable
from enum import Enum

from smartcron.clock import Clock
from smartcron.runner.process.procinfo import kill_group, live_group_members, process_alive, read_stat
from smartcron.runner.process.spawner import ExitEvent, Spawner
from smartcron.runner.process.supervised import Deadline, ProcessResult, SupervisedRun, result_of

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024  # a Linux pipe's default capacity
DRAIN_BUDGET = 4 * 1024 * 1024  # after the leader's exit; bounded, as a grandchild may keep writing
KILL_SETTLE_SECONDS = 5.0
"""After SIGKILL a process vanishes at once unless stuck in the kernel (D state); such a run is
reported anyway after this long, and its leader reaped whenever it finally exits."""


SPAWNER_DIED = "its spawner process died, so nobody could tell how it ended; it was killed"


class _Event(Enum):
    WAKE = "wake"
    SPAWNER = "spawner"
    OUTPUT = "output"
    LEADER_EXIT = "leader exit"
    MEMBER_EXIT = "member exit"
    STRAGGLER_EXIT = "straggler exit"


def open_verified_pidfd(pid: int, pgid: int, proc_start: int | None) -> int | None:
    """A pidfd for ``pid`` if it is alive, in group ``pgid`` and (when given) started at ``proc_start``.

    Checked after opening, so the pidfd surely names that process and not a later one with its pid.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    stat = read_stat(pid)
    if stat is None or stat.pgid != pgid or not process_alive(pid, proc_start):
        os.close(pidfd)
        return None
    return pidfd


class ProcessWatcher:
    """Watches runs until they end and hands each result to ``deliver``."""

    def __init__(self, *, clock: Clock, wake_fd: int, deliver: Callable[[ProcessResult], None]) -> None:
        self._clock = clock
        self._wake_fd = wake_fd
        self._deliver = deliver
        self._selector = selectors.DefaultSelector()
        self._selector.register(wake_fd, selectors.EVENT_READ, (_Event.WAKE, None))
        self._runs: dict[int, SupervisedRun] = {}
        self._spawned: dict[int, SupervisedRun] = {}  # by the spawner's sequence number
        self._early_exits: dict[int, ExitEvent] = {}  # reported before their run was watched
        self._spawner: Spawner | None = None
        self._spawner_fd = -1
        self._deadlines: list[tuple[float, int, Deadline, SupervisedRun]] = []
        self._sequence = itertools.count()

    @property
    def watching(self) -> bool:
        return bool(self._runs)

    def close(self) -> None:
        self._selector.close()

    def watch_spawner(self, spawner: Spawner) -> None:
        """Hear from this spawner (a new one after the last died) what it reaped."""
        if self._spawner is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._spawner_fd)
        self._spawner = spawner
        self._spawner_fd = spawner.events_fd
        self._selector.register(self._spawner_fd, selectors.EVENT_READ, (_Event.SPAWNER, None))

    def watch(self, run: SupervisedRun) -> None:
        self._runs[run.execution_id] = run
        if run.pidfd is not None:
            self._selector.register(run.pidfd, selectors.EVENT_READ, (_Event.LEADER_EXIT, run))
        if run.pipe_fd is not None:
            self._selector.register(run.pipe_fd, selectors.EVENT_READ, (_Event.OUTPUT, run))
        if run.timeout_mono is not None:
            self._schedule(run, Deadline.TIMEOUT, run.timeout_mono)
        if run.seq is not None:
            self._spawned[run.seq] = run
            early = self._early_exits.pop(run.seq, None)
            if early is not None:
                self._exited(run, early)

    def kill(self, execution_id: int, reason: str) -> bool:
        """Start ending a run; False when it is not (yet) watched."""
        run = self._runs.get(execution_id)
        if run is None:
            return False
        if not (run.leader_exited or run.terminating):
            log.info("killing: %s", reason, extra=_fields(run, "kill"))
            run.killed_reason = reason
            self._terminate(run)
        return True

    def handle_events(self, *, block: bool) -> None:
        """Wait for the next event or deadline (not at all unless ``block``) and handle what is due."""
        timeout = self._next_timeout() if block else 0
        for key, _ in self._selector.select(timeout):
            if self._is_stale(key):
                continue
            event, run = key.data
            guarded(self._dispatch, event, run, key.fd)
        now = self._clock.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, kind, run = heapq.heappop(self._deadlines)
            if not run.finished:
                guarded(self._deadline_reached, run, kind)
        self._drop_finished_deadlines()

    def _drop_finished_deadlines(self) -> None:
        # A run that ends early leaves its timeout in the heap; at a thousand runs a second with
        # timeouts of minutes those would pile up, so rebuild once most entries are dead.
        if len(self._deadlines) > 64 and len(self._deadlines) > 4 * len(self._runs):
            self._deadlines = [entry for entry in self._deadlines if not entry[3].finished]
            heapq.heapify(self._deadlines)

    def _is_stale(self, key: selectors.SelectorKey) -> bool:
        """True for an event whose fd an earlier event of the same batch closed (its number may
        even name a new pidfd by now): only the fd's current registration counts."""
        try:
            return self._selector.get_key(key.fileobj).data is not key.data
        except KeyError:
            return True

    def _next_timeout(self) -> float | None:
        if not self._deadlines:
            return None
        return max(0.0, self._deadlines[0][0] - self._clock.monotonic())

    def _schedule(self, run: SupervisedRun, kind: Deadline, at: float) -> None:
        heapq.heappush(self._deadlines, (at, next(self._sequence), kind, run))

    def _dispatch(self, event: _Event, run: SupervisedRun | None, fd: int) -> None:
        if event is _Event.SPAWNER:
            self._spawner_events()
        elif run is None:  # the wake-up eventfd: the owner's inbox has work
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._wake_fd)
        elif event is _Event.OUTPUT:
            self._read_output(run)
        elif event is _Event.LEADER_EXIT:
            self._leader_exited(run)
        elif event is _Event.MEMBER_EXIT:
            self._unwatch(fd)
            run.member_fds.discard(fd)
            if not run.member_fds:
                self._watch_leftovers(run)  # look again: one may have forked before it died
        else:
            self._reap_straggler(run, fd)

    def _deadline_reached(self, run: SupervisedRun, kind: Deadline) -> None:
        if kind is Deadline.TIMEOUT:
            if not (run.leader_exited or run.terminating):
                log.info("timed out", extra=_fields(run, "timeout"))
                run.timed_out = True
                self._terminate(run)
        elif kind is Deadline.KILL:
            kill_group(run.pgid, signal.SIGKILL)
            self._schedule(run, Deadline.GIVE_UP, self._clock.monotonic() + KILL_SETTLE_SECONDS)
        else:
            log.warning(
                "process group %s survived SIGKILL; reporting the run anyway",
                run.pgid,
                extra=_fields(run, "kill"),
            )
            self._finalize(run)

    def _terminate(self, run: SupervisedRun) -> None:
        run.terminating = True
        kill_group(run.pgid, signal.SIGTERM)
        self._schedule_kill(run)

    def _schedule_kill(self, run: SupervisedRun) -> None:
        if not run.kill_scheduled:
            run.kill_scheduled = True
            self._schedule(run, Deadline.KILL, self._clock.monotonic() + run.kill_grace)

    def _read_output(self, run: SupervisedRun) -> None:
        assert run.pipe_fd is not None and run.output is not None
        try:
            chunk = os.read(run.pipe_fd, READ_SIZE)
        except BlockingIOError:
            return
        if chunk:
            run.output.feed(chunk)
        else:
            self._close_pipe(run)

    def _drain_output(self, run: SupervisedRun) -> None:
        budget = DRAIN_BUDGET
        while run.pipe_fd is not None and run.output is not None and budget > 0:
            try:
                chunk = os.read(run.pipe_fd, READ_SIZE)
            except BlockingIOError:
                return
            if not chunk:
                return
            run.output.feed(chunk)
            budget -= len(chunk)

    def _close_pipe(self, run: SupervisedRun) -> None:
        if run.pipe_fd is not None:
            self._unwatch(run.pipe_fd)
            run.pipe_fd = None

    def _spawner_events(self) -> None:
        assert self._spawner is not None
        events = self._spawner.read_events()
        if events is None:
            self._spawner_died()
            return
        for event in events:
            run = self._spawned.pop(event.seq, None)
            if run is None:
                self._early_exits[event.seq] = event  # its watch() comes from the spawning thread
            elif not run.finished:
                self._exited(run, event)

    def _exited(self, run: SupervisedRun, event: ExitEvent) -> None:
        run.record_exit(event.status, event.utime, event.stime, event.maxrss_kb)
        self._spawned.pop(event.seq, None)
        self._leader_exited(run)

    def _spawner_died(self) -> None:
        """Nobody will report these leaders' exits any more: end them, say the outcome is unknown."""
        if self._spawner is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._spawner_fd)
        orphans = [run for run in self._spawned.values() if not run.leader_exited]
        self._spawned.clear()
        self._early_exits.clear()
        if orphans:
            log.error("the spawner process died; ending the %d run(s) it had started", len(orphans),
                      extra={"action": "supervise"})  # fmt: skip
        for run in orphans:
            kill_group(run.pgid, signal.SIGKILL)
            run.abandoned_reason = SPAWNER_DIED
            self._leader_exited(run)

    def _leader_exited(self, run: SupervisedRun) -> None:
        if run.leader_exited:
            return
        if run.pidfd is not None:
            self._unwatch(run.pidfd)
            run.pidfd = None
        run.leader_exited = True
        run.finished_at = self._clock.now()
        run.finished_mono = self._clock.monotonic()
        self._drain_output(run)
        self._close_pipe(run)
        # The group id stays reserved while any member lives, so this reaches only the run's leftovers.
        if kill_group(run.pgid, signal.SIGTERM):
            self._watch_leftovers(run)
        else:
            self._finalize(run)

    def _watch_leftovers(self, run: SupervisedRun) -> None:
        for pid in live_group_members(run.pgid):
            pidfd = open_verified_pidfd(pid, run.pgid, None)
            if pidfd is not None:
                run.member_fds.add(pidfd)
                self._selector.register(pidfd, selectors.EVENT_READ, (_Event.MEMBER_EXIT, run))
        if not run.member_fds:
            self._finalize(run)
            return
        log.info(
            "ending %d leftover process(es) of the run's group",
            len(run.member_fds),
            extra=_fields(run, "kill"),
        )
        self._schedule_kill(run)

    def _unwatch(self, fd: int) -> None:
        self._selector.unregister(fd)
        os.close(fd)

    def _finalize(self, run: SupervisedRun) -> None:
        run.finished = True
        for fd in run.member_fds:
            self._unwatch(fd)
        run.member_fds.clear()
        self._close_pipe(run)
        if not run.leader_exited:  # gave up after SIGKILL (stuck in the kernel): report it anyway
            if run.pidfd is not None:
                self._selector.modify(run.pidfd, selectors.EVENT_READ, (_Event.STRAGGLER_EXIT, run))
            run.finished_at = self._clock.now()
            run.finished_mono = self._clock.monotonic()
        if run.seq is not None:
            self._spawned.pop(run.seq, None)
        del self._runs[run.execution_id]
        result = result_of(run)
        run.output = None  # the heap may hold the run until its timeout; not its output
        self._deliver(result)

    def _reap_straggler(self, run: SupervisedRun, pidfd: int) -> None:
        """An adopted leader given up on has exited at last (it is not ours to reap)."""
        self._unwatch(pidfd)
        run.pidfd = None


def _fields(run: SupervisedRun, action: str) -> dict[str, object]:
    return {"task": run.task_name, "execution": run.execution_id, "action": action}


def guarded(action: Callable[..., None], *args: object) -> None:
    """Run one step; a bug or an unexpected OS error must not end the supervision of every other run."""
    try:
        action(*args)
    except Exception:
        log.exception("supervisor error", extra={"action": "supervise"})
