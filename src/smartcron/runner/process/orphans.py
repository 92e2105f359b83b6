"""The processes of a run whose runner died: found, proven ours, and ended (DESIGN 3.10, section 9).

A runner killed with ``kill -9`` leaves its task processes behind, each in the process group of its
run, and some perhaps outside it (a daemon that called ``setsid``). Recovery must end every one of
them, including those whose group leader has already exited, and must never signal somebody
else's process that happens to have a recorded pid or group id now (pids are reused).

A process is proven to be the run's when its environment, as it was started, carries the run's
``SMARTCRON_EXECUTION_ID`` and ``SMARTCRON_TASK`` (and its ``SMARTCRON_SCHEDULED_FOR``, when
present): the runner sets them on every task process and its descendants inherit them, and
checking the task name, the slot and ``SMARTCRON_INSTALLATION`` keeps another installation's run
with the same id safe. The
run's process group is proven the run's when one of its members is proven so, or when its leader
is alive with the recorded pid and start time. A group id cannot be taken by another process
while any member of the group lives, and members of a group can only be the task's own
descendants (each run has its own session), so signalling a proven group reaches the run and
nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from smartcron.runner.process.env import INSTALLATION_VARIABLE, SCHEDULED_FOR_VARIABLE
from smartcron.runner.process.procinfo import (
    EXECUTION_ID_VARIABLE,
    TASK_NAME_VARIABLE,
    kill_group,
    live_group_members,
    process_alive,
    read_environment,
    read_stat,
    scan_pids,
)


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """What a row says about a run's processes."""

    execution_id: int
    task_name: str
    scheduled_for: datetime
    pid: int | None = None
    pgid: int | None = None
    proc_start: int | None = None
    installation: str | None = None


def _belongs(env: dict[str, str], run: RunIdentity) -> bool:
    if env.get(EXECUTION_ID_VARIABLE) != str(run.execution_id) or env.get(TASK_NAME_VARIABLE) != run.task_name:
        return False
    if run.installation is not None and env.get(INSTALLATION_VARIABLE) not in (None, run.installation):
        return False
    return env.get(SCHEDULED_FOR_VARIABLE) in (None, run.scheduled_for.isoformat())


def find_run_processes(runs: Iterable[RunIdentity]) -> dict[int, list[int]]:
    """For each run, the live pids proven to be its own (one scan of ``/proc`` for all of them)."""
    by_id = {run.execution_id: run for run in runs}
    found: dict[int, list[int]] = {run_id: [] for run_id in by_id}
    if not by_id:
        return found
    me = os.getpid()
    for pid in scan_pids():
        if pid == me:
            continue
        env = read_environment(pid)
        marker = env.get(EXECUTION_ID_VARIABLE, "")
        run = by_id.get(int(marker)) if marker.isdigit() else None
        if run is None or not _belongs(env, run):
            continue
        stat = read_stat(pid)
        if stat is not None and not stat.exited:
            found[run.execution_id].append(pid)
    return found


def end_run_processes(run: RunIdentity, pids: Iterable[int]) -> int:
    """SIGKILL the run's proven processes and every member of its proven process groups; returns
    how many processes that was (0: nothing of the run was alive)."""
    victims = set(pids)
    groups: set[int] = set()
    for pid in victims:
        stat = read_stat(pid)
        if stat is not None and not stat.exited:
            groups.add(stat.pgid)
    if run.pgid and run.pid and process_alive(run.pid, run.proc_start):
        leader = read_stat(run.pid)
        if leader is not None and leader.pgid == run.pgid:
            groups.add(run.pgid)
    groups.discard(os.getpgrp())
    for group in groups:
        victims.update(live_group_members(group))
        with contextlib.suppress(ValueError):  # never our own group (or init's)
            kill_group(group, signal.SIGKILL)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(victims)
