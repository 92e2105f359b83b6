"""What the kernel knows about a process: start time, liveness, group membership, environment.

Everything here reads ``/proc`` (Linux) or sends signals; nothing keeps state. A pid alone is not an
identity (pids are reused), so a process is named by ``(pid, start time)``: the start time in clock
ticks since boot, field 22 of ``/proc/<pid>/stat``, which never changes for a process and differs
for any later process that gets the same pid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

EXECUTION_ID_VARIABLE = "SMARTCRON_EXECUTION_ID"
"""Every task process has this in its environment; it finds a run's processes after a crash."""

TASK_NAME_VARIABLE = "SMARTCRON_TASK"

_PROC = "/proc"
_DEAD_STATES = frozenset({"Z", "X", "x"})  # zombie, dead: exited, only waiting to be reaped


@dataclass(frozen=True, slots=True)
class ProcessStat:
    """The few fields of ``/proc/<pid>/stat`` smartcron needs."""

    pid: int
    state: str
    pgid: int
    start_time: int

    @property
    def exited(self) -> bool:
        return self.state in _DEAD_STATES


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat line, or None when there is no such process."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb", buffering=0) as stat_file:
            data = stat_file.read()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return ProcessStat(pid=pid, state=fields[0].decode(), pgid=int(fields[2]), start_time=int(fields[19]))


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when there is no such process."""
    stat = read_stat(pid)
    return stat.start_time if stat else None


def process_alive(pid: int, proc_start: int | None) -> bool:
    """True when ``pid`` is running and is the same process that started at ``proc_start``.

    A zombie counts as gone (it has exited). With ``proc_start`` None the identity cannot be
    checked, and any live process with that pid counts.
    """
    if pid <= 0:
        return False
    stat = read_stat(pid)
    if stat is None or stat.exited:
        return False
    return proc_start is None or stat.start_time == proc_start


def kill_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group is already gone (ESRCH).

    Refuses group ids that would hit the caller itself (0 means "my own group" to the kernel).
    """
    if pgid <= 1 or pgid == os.getpgrp():
        raise ValueError(f"refusing to signal process group {pgid}")
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def group_exists(pgid: int) -> bool:
    """True while any process (zombies included) is in group ``pgid``."""
    return kill_group(pgid, 0)


def scan_pids() -> Iterator[int]:
    """Every pid in ``/proc`` now."""
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if entry.name.isdigit():
                yield int(entry.name)


def live_group_members(pgid: int) -> list[int]:
    """Pids of processes in group ``pgid`` that have not exited (zombies excluded)."""
    members = []
    for pid in scan_pids():
        stat = read_stat(pid)
        if stat is not None and stat.pgid == pgid and not stat.exited:
            members.append(pid)
    return members


def read_environment(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with ({} when it is gone or not ours to read)."""
    try:
        with open(f"{_PROC}/{pid}/environ", "rb", buffering=0) as environ_file:
            data = environ_file.read()
    except OSError:
        return {}
    pairs = (entry.split(b"=", 1) for entry in data.split(b"\0") if b"=" in entry)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def _execution_id_in_environment(pid: int) -> int | None:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb", buffering=0) as environ_file:
            data = environ_file.read()
    except OSError:  # gone, a kernel thread, or not ours to read
        return None
    marker = f"{EXECUTION_ID_VARIABLE}=".encode()
    for entry in data.split(b"\0"):
        if entry.startswith(marker):
            value = entry[len(marker) :]
            return int(value) if value.isdigit() else None
    return None


def processes_by_execution() -> dict[int, list[int]]:
    """Every live process carrying ``SMARTCRON_EXECUTION_ID``, grouped by execution id (one /proc scan)."""
    found: dict[int, list[int]] = {}
    me = os.getpid()
    for pid in scan_pids():
        if pid == me:
            continue
        execution_id = _execution_id_in_environment(pid)
        if execution_id is None:
            continue
        stat = read_stat(pid)
        if stat is not None and not stat.exited:
            found.setdefault(execution_id, []).append(pid)
    return found


def find_processes_of(execution_id: int) -> list[int]:
    """Pids whose environment has ``SMARTCRON_EXECUTION_ID=<execution_id>``.

    The runner puts that variable into every task's environment, so this finds a task process whose
    pid never reached the database (the runner died between spawn and recording it), and any
    descendant that left the task's process group. The environment is the one the process was
    started with, so a task cannot hide by changing its own variables later.
    """
    return sorted(processes_by_execution().get(execution_id, []))
