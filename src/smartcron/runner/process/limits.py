"""Per-task resource limits applied before the task's own code runs, without ``preexec_fn``.

``preexec_fn`` forces a full fork (its cost grows with the runner's memory) and is unsafe in a
threaded runner; setting limits after spawn leaves a window in which the task runs unlimited. So
the child execs through two tiny standard tools that set the limit on themselves and then exec the
task in the same process: util-linux ``prlimit`` (RLIMIT_AS, RLIMIT_CPU) and coreutils ``nice``.
Both ship in Debian's base system. A task without limits keeps the single exec.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache

TOOL_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

CPU_KILL_MARGIN_SECONDS = 1
"""RLIMIT_CPU sends SIGXCPU at the soft limit; the hard limit (SIGKILL) a second later stops a task
that ignores SIGXCPU."""


class LimitsUnavailableError(Exception):
    """A tool needed to apply a limit is not installed."""


@dataclass(frozen=True, slots=True)
class CommandProblem:
    """Why a command cannot start: the exit code a shell would give (127, 126), None if transient."""

    exit_code: int | None
    message: str


@cache
def _tool(name: str) -> str:
    path = shutil.which(name, path=TOOL_SEARCH_PATH)
    if path is None:
        raise LimitsUnavailableError(f"cannot apply limits: {name} is not installed")
    return path


def limit_prefix(*, max_memory_mb: int | None, max_cpu_seconds: int | None, nice: int | None) -> tuple[str, ...]:
    """The argv to put before a task's own argv so it runs under these limits; empty when none."""
    prefix: list[str] = []
    # nice first: prlimit's address-space limit then covers everything after it, but not nice itself.
    # A task's nice is absolute, and the nice tool adds to the niceness it inherits from the runner.
    adjustment = 0 if nice is None else nice - os.getpriority(os.PRIO_PROCESS, 0)
    if adjustment:
        prefix += [_tool("nice"), "-n", str(adjustment), "--"]
    rlimits = []
    if max_memory_mb is not None:
        size = max_memory_mb * 1024 * 1024
        rlimits.append(f"--as={size}:{size}")
    if max_cpu_seconds is not None:
        rlimits.append(f"--cpu={max_cpu_seconds}:{max_cpu_seconds + CPU_KILL_MARGIN_SECONDS}")
    if rlimits:
        prefix += [_tool("prlimit"), *rlimits, "--"]
    return tuple(prefix)


def command_problem(program: str, *, search_path: str | None, cwd: str | None) -> CommandProblem | None:
    """Check that ``program`` would exec, as ``execvp`` in the child would see it.

    Used only when a wrapper tool stands between the runner and the task: the wrapper's own exec
    of a missing program would show only as an exit code, and the run should say why.
    """
    if "/" in program:
        path = program if os.path.isabs(program) or cwd is None else os.path.join(cwd, program)
        if not os.path.exists(path):
            return CommandProblem(127, f"not found: {program}")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            return CommandProblem(126, f"permission denied: {program}")
        return None
    directories = (search_path if search_path is not None else os.defpath).split(os.pathsep)
    found_unusable = False
    for directory in directories:
        candidate = os.path.join(directory or ".", program)
        if not os.path.isabs(candidate) and cwd is not None:
            candidate = os.path.join(cwd, candidate)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return None
            found_unusable = True
    if found_unusable:
        return CommandProblem(126, f"permission denied: {program}")
    return CommandProblem(127, f"not found: {program}")
