"""Starting one task process: the part of a spawn that runs in the caller's thread.

The child gets its own session and process group (so a signal to the group reaches everything it
starts and nothing else), stdin from /dev/null, stdout and stderr on one pipe, the caller's complete
environment, and the working directory. ``subprocess`` uses vfork+exec here because there is no
``preexec_fn``; limits come from wrapper tools (see :mod:`smartcron.runner.limits`). A command
that cannot start is not an exception: it becomes a :class:`LaunchFailure` with the exit code a
shell would give, so the caller reports it like any other ended run.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartcron.runner.limits import CommandProblem, LimitsUnavailableError, command_problem, limit_prefix
from smartcron.runner.output import RunOutput
from smartcron.runner.procinfo import EXECUTION_ID_VARIABLE, TASK_NAME_VARIABLE, process_start_time

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

    def child_env(self) -> dict[str, str]:
        """The caller's environment plus the two variables every task process carries."""
        env = dict(self.env)
        env.setdefault(EXECUTION_ID_VARIABLE, str(self.execution_id))
        env.setdefault(TASK_NAME_VARIABLE, self.task_name)
        return env


@dataclass(slots=True)
class LaunchedProcess:
    """A running child: its pipe's read end (non-blocking) and a pidfd, both owned by the caller."""

    popen: subprocess.Popen[bytes]
    pid: int
    proc_start: int | None
    pidfd: int
    pipe_fd: int
    output: RunOutput


@dataclass(slots=True)
class LaunchFailure:
    """The command did not start. ``exit_code`` 127/126 as a shell would; None when transient."""

    exit_code: int | None
    message: str
    output: RunOutput


def launch(spec: ProcessSpec) -> LaunchedProcess | LaunchFailure:
    """Open the log, write the header, start the child. Never raises for a bad command."""
    output = RunOutput.open(
        spec.log_path, spec.header, preview_bytes=spec.preview_bytes, max_output_bytes=spec.max_output_bytes
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
    try:
        popen = subprocess.Popen(
            prefix + argv,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        os.close(read_fd)
        return _failure(output, _problem_from_exception(exc, argv[0], spec.cwd))
    finally:
        os.close(write_fd)
    return _supervisable(popen, read_fd, output)


def _supervisable(popen: subprocess.Popen[bytes], read_fd: int, output: RunOutput) -> LaunchedProcess | LaunchFailure:
    # The child is ours and unreaped, so its /proc entry and a pidfd for it exist even if it already exited.
    proc_start = process_start_time(popen.pid)
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError as exc:  # out of file descriptors: do not leave an unsupervised child behind
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        os.close(read_fd)
        return _failure(output, CommandProblem(None, f"cannot supervise: {exc.strerror}"))
    os.set_blocking(read_fd, False)
    return LaunchedProcess(popen, popen.pid, proc_start, pidfd, read_fd, output)


def _failure(output: RunOutput, problem: CommandProblem) -> LaunchFailure:
    output.note(f"[smartcron: cannot start: {problem.message}]")
    return LaunchFailure(problem.exit_code, problem.message, output)


def _check_before_wrapping(program: str, search_path: str | None, cwd: str | None) -> CommandProblem | None:
    if cwd is not None and not os.path.isdir(cwd):
        return CommandProblem(127, f"working directory not found: {cwd}")
    return command_problem(program, search_path=search_path, cwd=cwd)


def _problem_from_exception(exc: OSError | ValueError, program: str, cwd: str | None) -> CommandProblem:
    if isinstance(exc, ValueError):  # e.g. an embedded NUL byte in argv or env
        return CommandProblem(126, f"invalid command: {exc}")
    # subprocess reports a failed chdir with the working directory as the file name.
    if cwd is not None and exc.filename == cwd:
        if exc.errno == errno.ENOENT:
            return CommandProblem(127, f"working directory not found: {cwd}")
        return CommandProblem(126, f"working directory not usable: {cwd}: {exc.strerror}")
    if exc.errno == errno.ENOENT:
        return CommandProblem(127, f"not found: {program}")
    if exc.errno == errno.EACCES:
        return CommandProblem(126, f"permission denied: {program}")
    if exc.errno in _TRANSIENT_ERRNOS:
        return CommandProblem(None, f"cannot start: {exc.strerror}")
    return CommandProblem(126, f"cannot execute: {program}: {exc.strerror}")
