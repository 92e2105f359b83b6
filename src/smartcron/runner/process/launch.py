"""Starting one task process: the part of a spawn that runs in the caller's thread.

The child gets its own session and process group (so a signal to the group reaches everything it
starts and nothing else), stdin from /dev/null, stdout and stderr on one pipe, the caller's complete
environment, and the working directory. Limits come from wrapper tools (see
:mod:`smartcron.runner.process.limits`), never from ``preexec_fn``. A command that cannot start is not an
exception: it becomes a :class:`LaunchFailure` with the exit code a shell would give, so the caller
reports it like any other ended run.

Two ways to start the same child. Usually ``os.posix_spawn`` (clone+exec in the kernel, the child
set up by glibc): a third of ``subprocess.Popen``'s cost, which matters when a thousand tasks fall
due at once. It cannot change the working directory, so a task that runs elsewhere than the runner
goes through ``Popen`` (vfork+exec too, as there is no ``preexec_fn``); so does every start that
fails, which ``Popen`` then reports with its exact reason. What Popen would also do for the child
is done here too: ignored SIGPIPE and SIGXFSZ back to default, and no descriptor of the runner
leaks into it (Python opens every descriptor close-on-exec; :func:`close_inherited_descriptors`
makes any the runner inherited so as well).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartcron.runner.process.limits import CommandProblem, LimitsUnavailableError, command_problem, limit_prefix
from smartcron.runner.process.output import RunOutput
from smartcron.runner.process.procinfo import EXECUTION_ID_VARIABLE, TASK_NAME_VARIABLE

SHELL = "/bin/sh"
_TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE})
# Python ignores these; exec keeps a signal ignored, and Popen's restore_signals undoes it.
_RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


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
    """A running child: its pipe's read end (non-blocking) and a pidfd, both owned by the caller.

    ``popen`` is set when ``subprocess`` started it: that object must keep existing until the
    child is reaped (see :meth:`SupervisedRun.record_exit`)."""

    pid: int
    pidfd: int
    pipe_fd: int
    output: RunOutput
    popen: subprocess.Popen[bytes] | None = None


@dataclass(slots=True)
class LaunchFailure:
    """The command did not start. ``exit_code`` 127/126 as a shell would; None when transient."""

    exit_code: int | None
    message: str
    output: RunOutput


def launch(spec: ProcessSpec) -> LaunchedProcess | LaunchFailure:
    """Start the child. Never raises for a bad command.

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
    popen = None
    try:
        pid = _posix_spawn(prefix + argv, env, spec.cwd, read_fd, write_fd)
        if pid is None:
            popen = subprocess.Popen(
                prefix + argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
            pid = popen.pid
    except (OSError, ValueError) as exc:
        os.close(read_fd)
        return _failure(output, _problem_from_exception(exc, argv[0], spec.cwd))
    finally:
        os.close(write_fd)
    return _supervisable(pid, popen, read_fd, output)


def _posix_spawn(
    argv: tuple[str, ...], env: Mapping[str, str], cwd: str | None, read_fd: int, write_fd: int
) -> int | None:
    """Start the child with ``os.posix_spawn``; None when that cannot start it as Popen would.

    None, not an error, for a working directory other than the runner's, a program not found
    (Popen then tries it and says why), a pipe on a standard descriptor (the runner was started
    with one closed), and a start that failed: the caller falls back to ``subprocess``.
    """
    if min(read_fd, write_fd) <= 2:
        return None
    if cwd is not None:
        try:
            if cwd != os.getcwd():
                return None
        except OSError:  # the runner's own directory is gone
            return None
    executable = _find_executable(argv[0], env)
    if executable is None:
        return None
    try:
        return os.posix_spawn(
            executable,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, write_fd, 1),
                (os.POSIX_SPAWN_DUP2, write_fd, 2),
            ],
            setsid=True,
            setsigdef=_RESTORED_SIGNALS,
        )
    except (OSError, ValueError):
        return None


def _find_executable(program: str, env: Mapping[str, str]) -> str | None:
    """The file ``execvp`` in the child would run: ``program`` itself when it holds a slash, else the
    first executable regular file of that name on the child's PATH (not the runner's)."""
    if "/" in program:
        return program
    # As os.get_exec_path(env), without its warnings machinery (a tenth of a spawn's own cost).
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


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


def _supervisable(
    pid: int, popen: subprocess.Popen[bytes] | None, read_fd: int, output: RunOutput
) -> LaunchedProcess | LaunchFailure:
    # The child is ours and unreaped, so a pidfd for it can be had even if it already exited.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as exc:  # out of file descriptors: do not leave an unsupervised child behind
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if popen is not None:
            popen.returncode = -signal.SIGKILL
        os.close(read_fd)
        return _failure(output, CommandProblem(None, f"cannot supervise: {exc.strerror}"))
    os.set_blocking(read_fd, False)
    return LaunchedProcess(pid, pidfd, read_fd, output, popen)


def _failure(output: RunOutput, problem: CommandProblem) -> LaunchFailure:
    output.open_log()
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
