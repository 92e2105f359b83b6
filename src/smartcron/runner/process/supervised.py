"""The supervisor's record of one run while it is watched. Owned by the supervisor thread alone."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from smartcron.runner.process.launch import LaunchFailure
from smartcron.runner.process.output import RunOutput


class Deadline(Enum):
    TIMEOUT = "timeout"  # the run's time is up: SIGTERM the group
    KILL = "kill"  # the grace after SIGTERM is over: SIGKILL the group
    GIVE_UP = "give up"  # SIGKILL did not end it (stuck in the kernel): report anyway


PEAK_MARGIN_KB = 256
"""A task's peak must be this much above the spawner's own to count as its own (reads of VmHWM
and ru_maxrss round differently)."""


@dataclass(slots=True, eq=False)
class SupervisedRun:
    execution_id: int
    task_name: str
    pid: int
    pgid: int
    started_at: datetime
    started_mono: float
    kill_grace: float
    pidfd: int | None  # adopted runs: watched through a pidfd; spawned ones: the spawner reports
    timeout_mono: float | None = None
    seq: int | None = None  # the spawner's name for it (spawned runs), in its exit reports
    pipe_fd: int | None = None
    output: RunOutput | None = None
    # How it is ending
    timed_out: bool = False
    killed_reason: str | None = None
    terminating: bool = False  # SIGTERM sent by a timeout or kill()
    kill_scheduled: bool = False
    leader_exited: bool = False
    member_fds: set[int] = field(default_factory=set)  # pidfds of leftovers after the leader exited
    finished: bool = False
    # What it left behind
    finished_at: datetime | None = None
    finished_mono: float = 0.0
    exit_code: int | None = None
    signal: int | None = None
    cpu_user_ms: int | None = None
    cpu_sys_ms: int | None = None
    max_rss_kb: int | None = None
    max_rss_kb_below: int | None = None
    spawner_peak_kb: int = 0  # the spawner's own peak RSS (see record_exit)
    abandoned_reason: str | None = None  # its spawner died: nobody can say how it ended

    def record_exit(self, status: int, utime: float, stime: float, maxrss_kb: int) -> None:
        """Keep the leader's wait status and rusage (which includes reaped descendants), as the
        spawner reaped them.

        ``ru_maxrss`` is the larger of the task's own peak and the spawner's: exec keeps the
        high-water mark of the address space it replaces. So it is the task's peak only when it is
        above the spawner's (``spawner_peak_kb``, with ``PEAK_MARGIN_KB``); below that the task's
        peak is only known to be under the spawner's, which is what is recorded
        (``max_rss_kb_below``), rather than the spawner's size as if it were the task's.
        """
        if os.WIFSIGNALED(status):
            self.signal = os.WTERMSIG(status)
        elif os.WIFEXITED(status):
            self.exit_code = os.WEXITSTATUS(status)
        self.cpu_user_ms = round(utime * 1000)
        self.cpu_sys_ms = round(stime * 1000)
        if maxrss_kb > self.spawner_peak_kb + PEAK_MARGIN_KB:
            self.max_rss_kb = maxrss_kb
        else:
            self.max_rss_kb_below = self.spawner_peak_kb + PEAK_MARGIN_KB


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How one run ended, as the supervisor reports it through ``on_exit``."""

    execution_id: int
    exit_code: int | None  # None when killed by a signal, or unknown (adopted process)
    signal: int | None
    timed_out: bool
    killed_reason: str | None  # set when kill() ended it ("replaced", "operator", "shutdown", ...)
    spawn_error: str | None  # could not start: "not found: foo", "permission denied: ./x"
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    cpu_user_ms: int | None
    cpu_sys_ms: int | None
    max_rss_kb: int | None  # peak RSS in KiB, from wait4; None when not above the spawner's (see record_exit)
    max_rss_kb_below: int | None  # then: the peak is below this many KiB
    abandoned_reason: str | None  # the run's spawner died: its outcome is unknown
    output: str  # the last preview_bytes of output, decoded UTF-8 with replacement
    output_bytes: int  # total bytes the process wrote (including dropped ones)
    truncated: bool  # output beyond max_output_bytes was dropped


def result_of(run: SupervisedRun) -> ProcessResult:
    """The result of a run whose leader has exited (or was given up on); closes its log."""
    summary = run.output.close() if run.output is not None else None
    return ProcessResult(
        execution_id=run.execution_id,
        exit_code=run.exit_code,
        signal=run.signal,
        timed_out=run.timed_out,
        killed_reason=run.killed_reason,
        spawn_error=None,
        started_at=run.started_at,
        finished_at=run.finished_at or run.started_at,
        duration_ms=max(0, round((run.finished_mono - run.started_mono) * 1000)),
        cpu_user_ms=run.cpu_user_ms,
        cpu_sys_ms=run.cpu_sys_ms,
        max_rss_kb=run.max_rss_kb,
        max_rss_kb_below=run.max_rss_kb_below,
        abandoned_reason=run.abandoned_reason,
        output=summary.preview if summary else "",
        output_bytes=summary.total_bytes if summary else 0,
        truncated=summary.truncated if summary else False,
    )


def failure_result(execution_id: int, started_at: datetime, failure: LaunchFailure) -> ProcessResult:
    """The result of a run whose command could not start; closes its log."""
    summary = failure.output.close()
    return ProcessResult(
        execution_id=execution_id,
        exit_code=failure.exit_code,
        signal=None,
        timed_out=False,
        killed_reason=None,
        spawn_error=failure.message,
        started_at=started_at,
        finished_at=started_at,
        duration_ms=0,
        cpu_user_ms=None,
        cpu_sys_ms=None,
        max_rss_kb=None,
        max_rss_kb_below=None,
        abandoned_reason=None,
        output=summary.preview,
        output_bytes=summary.total_bytes,
        truncated=summary.truncated,
    )
