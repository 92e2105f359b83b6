"""The supervisor's record of one run while it is watched. Owned by the supervisor thread alone."""

from __future__ import annotations

import os
import resource
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from smartcron.runner.process.launch import LaunchFailure
from smartcron.runner.process.output import RunOutput


class Deadline(Enum):
    TIMEOUT = "timeout"  # the run's time is up: SIGTERM the group
    KILL = "kill"  # the grace after SIGTERM is over: SIGKILL the group
    GIVE_UP = "give up"  # SIGKILL did not end it (stuck in the kernel): report anyway


PEAK_MARGIN_KB = 1024
"""A task's peak must be this much above the runner's peak at spawn time to count as its own."""


@dataclass(slots=True, eq=False)
class SupervisedRun:
    execution_id: int
    task_name: str
    pid: int
    pgid: int
    started_at: datetime
    started_mono: float
    kill_grace: float
    pidfd: int
    timeout_mono: float | None = None
    own_child: bool = False  # spawned here, so ours to reap; False when adopted (or once reaped)
    popen: subprocess.Popen[bytes] | None = None  # when subprocess started it (see record_exit)
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
    spawner_peak_kb: int = 0  # the runner's own peak RSS just before the spawn (see record_exit)

    def record_exit(self, status: int | None, usage: resource.struct_rusage | None) -> None:
        """Keep the leader's wait status and its rusage (which includes reaped descendants).

        ``ru_maxrss`` is the larger of the task's own peak and the runner's peak at spawn time: exec
        records the high-water mark of the address space it replaces, which for a vfork child is the
        runner's. So it is the task's peak only when it is above the runner's (``spawner_peak_kb``,
        with ``PEAK_MARGIN_KB`` for what the runner grew while spawning); below that the task's
        peak is unknown and left None rather than reported as the runner's size.
        """
        self.own_child = False
        if self.popen is not None:
            # Popen must never try to reap this pid again: by then it may name another process.
            self.popen.returncode = os.waitstatus_to_exitcode(status) if status is not None else -1
            self.popen = None
        if status is None:
            return
        if os.WIFSIGNALED(status):
            self.signal = os.WTERMSIG(status)
        elif os.WIFEXITED(status):
            self.exit_code = os.WEXITSTATUS(status)
        if usage is not None:
            self.cpu_user_ms = round(usage.ru_utime * 1000)
            self.cpu_sys_ms = round(usage.ru_stime * 1000)
            peak = usage.ru_maxrss  # KiB on Linux
            self.max_rss_kb = peak if peak > self.spawner_peak_kb + PEAK_MARGIN_KB else None


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
    max_rss_kb: int | None  # peak RSS in KiB, from os.wait4; None when not above the runner's (see record_exit)
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
        output=summary.preview,
        output_bytes=summary.total_bytes,
        truncated=summary.truncated,
    )
