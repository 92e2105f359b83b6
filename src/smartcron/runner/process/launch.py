"""Starting one task process: what the caller's thread does before and after the spawner starts it.

The child gets its own session and process group (so a signal to the group reaches everything it
starts and nothing else), stdin from /dev/null, stdout and stderr on one pipe, the caller's
complete environment, and the working directory. Limits come from wrapper tools (see
:mod:`smartcron.runner.process.limits`), never from ``preexec_fn``. A command that cannot start is
not an exception: it becomes a :class:`LaunchFailure` with the exit code a shell would give, so
the caller reports it like any other ended run.

The process itself is started by the spawner (:mod:`.spawner`), a small process of its own, in two
steps around it: :func:`prepare` (the run's output, the argv with any limit wrapper, the pipe) and
:func:`conclude` (the spawner's answer: a started process, or why it could not start).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartcron.runner.process.limits import CommandProblem, LimitsUnavailableError, command_problem, limit_prefix
from smartcron.runner.process.output import RunOutput
from smartcron.runner.process.procinfo import EXECUTION_ID_VARIABLE, TASK_NAME_VARIABLE
from smartcron.runner.process.spawner import SpawnAnswer, SpawnRequest

SHELL = "/bin/sh"
_TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE})


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """Everything needed to run one task process; the runner builds it from the task and the row."""

    execution_id: int
    task_name: str
    argv: tuple[str, ...]  # with shell=True: one element, the shell string (run by /bin/sh -c)
    shell: bool
    cwd: str | None
    env: Mapping[str, str]  # the complete environment of the child; the caller builds it
    timeout: float | None  # seconds; None = no timeout
    kill_grace: float  # seconds between SIGTERM and SIGKILL
    max_memory_mb: int | None
    max_cpu_seconds: int | None
    nice: int | None
    log_path: Path  # task log file; appended to, created with its directory
    header: str  # one line written before this run's output (no newline)
    preview_bytes: int = 64 * 1024  # tail kept for the execution row
    max_output_bytes: int = 10 * 1024 * 1024  # per-run cap on what goes to the log

    def __post_init__(self) -> None:
        # These are programming errors upstream (task files are validated by the registry).
        if not self.argv or (self.shell and len(self.argv) != 1):
            raise ValueError("argv must be non-empty, and exactly the shell string when shell is set")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive or None")
        if self.kill_grace < 0 or self.preview_bytes < 0 or self.max_output_bytes < 0:
            raise ValueError("kill_grace, preview_bytes and max_output_bytes cannot be negative")
        for name in ("max_memory_mb", "max_cpu_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")
        if self.nice is not None and not -20 <= self.nice <= 19:
            raise ValueError("nice must be between -20 and 19")

    def child_argv(self) -> tuple[str, ...]:
        return (SHELL, "-c", self.argv[0]) if self.shell else self.argv

    def child_env(self) -> Mapping[str, str]:
        """The caller's environment plus the two variables every task process carries."""
        if EXECUTION_ID_VARIABLE in self.env and TASK_NAME_VARIABLE in self.env:
            return self.env  # the runner sets both: no copy
        env = dict(self.env)
        env.setdefault(EXECUTION_ID_VARIABLE, str(self.execution_id))
        env.setdefault(TASK_NAME_VARIABLE, self.task_name)
        return env


@dataclass(slots=True)
class LaunchedProcess:
    """A running child: its pipe's read end (non-blocking), owned by the caller. Not the caller's
    child: the spawner reaps it and reports its exit (``seq`` names it in those reports)."""

    pid: int
    seq: int
    pipe_fd: int
    output: RunOutput


@dataclass(slots=True)
class LaunchFailure:
    """The command did not start. ``exit_code`` 127/126 as a shell would; None when transient."""

    exit_code: int | None
    message: str
    output: RunOutput


@dataclass(slots=True)
class PreparedLaunch:
    """A run ready for the spawner: the request to send, and what the caller keeps of it."""

    spec: ProcessSpec
    output: RunOutput
    request: SpawnRequest
    read_fd: int


def prepare(spec: ProcessSpec, seq: int) -> PreparedLaunch | LaunchFailure:
    """Everything but the spawn itself. Never raises for a bad command.

    The run's log is opened (and its header written) by whoever reads the output: the supervisor
    thread for a started child (``LaunchedProcess.output.open_log()``), here for a failure."""
    output = RunOutput(
        spec.log_path, header=spec.header, preview_bytes=spec.preview_bytes, max_output_bytes=spec.max_output_bytes
    )
    argv = spec.child_argv()
    env = spec.child_env()
    try:
        prefix = limit_prefix(max_memory_mb=spec.max_memory_mb, max_cpu_seconds=spec.max_cpu_seconds, nice=spec.nice)
    except LimitsUnavailableError as exc:
        return _failure(output, CommandProblem(126, str(exc)))
    if prefix:
        problem = _check_before_wrapping(argv[0], env.get("PATH"), spec.cwd)
        if problem is not None:
            return _failure(output, problem)
    try:
        read_fd, write_fd = os.pipe()
    except OSError as exc:
        return _failure(output, CommandProblem(None, f"cannot start: {exc.strerror}"))
    request = SpawnRequest(seq, prefix + argv, env, spec.cwd, write_fd)
    return PreparedLaunch(spec, output, request, read_fd)


def conclude(prepared: PreparedLaunch, answer: SpawnAnswer | None) -> LaunchedProcess | LaunchFailure:
    """The spawner's answer (None: the spawner died before answering) as a started process or a
    failure; the caller's write end of the pipe is closed either way."""
    os.close(prepared.request.out_fd)
    if answer is not None and answer.pid:
        os.set_blocking(prepared.read_fd, False)
        return LaunchedProcess(answer.pid, prepared.request.seq, prepared.read_fd, prepared.output)
    os.close(prepared.read_fd)
    if answer is None:
        return _failure(prepared.output, CommandProblem(None, "cannot start: the spawner process died"))
    spec = prepared.spec
    return _failure(prepared.output, _problem_from_errno(answer.errno, answer.step, spec.child_argv()[0], spec.cwd))


def close_inherited_descriptors() -> None:
    """Make every descriptor above stderr close-on-exec, as ``Popen(close_fds=True)`` would keep
    them from a child. Python creates descriptors so already; this catches ones the process
    inherited (from a shell, systemd) or a library opened without the flag."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
                if os.get_inheritable(fd):
                    os.set_inheritable(fd, False)


def _failure(output: RunOutput, problem: CommandProblem) -> LaunchFailure:
    output.open_log()
    output.note(f"[smartcron: cannot start: {problem.message}]")
    return LaunchFailure(problem.exit_code, problem.message, output)


def _check_before_wrapping(program: str, search_path: str | None, cwd: str | None) -> CommandProblem | None:
    if cwd is not None and not os.path.isdir(cwd):
        return CommandProblem(127, f"working directory not found: {cwd}")
    return command_problem(program, search_path=search_path, cwd=cwd)


def _problem_from_errno(number: int | None, step: str | None, program: str, cwd: str | None) -> CommandProblem:
    reason = os.strerror(number) if number else "unknown error"
    if step == "chdir":
        if number == errno.ENOENT:
            return CommandProblem(127, f"working directory not found: {cwd}")
        return CommandProblem(126, f"working directory not usable: {cwd}: {reason}")
    if number == errno.ENOENT:
        return CommandProblem(127, f"not found: {program}")
    if number == errno.EACCES:
        return CommandProblem(126, f"permission denied: {program}")
    if number in _TRANSIENT_ERRNOS:
        return CommandProblem(None, f"cannot start: {reason}")
    return CommandProblem(126, f"cannot execute: {program}: {reason}")
