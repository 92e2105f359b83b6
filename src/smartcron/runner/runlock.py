"""One daemon per node name on a machine, and a daemon that is starting can be seen before it beats.

``smartcron run`` takes an exclusive ``flock`` on ``<run_dir>/runner-<node>.lock`` before anything
else and holds it for its life; the kernel drops it when the process dies, however it dies, so
the lock never outlives its holder. A second daemon with the same node name on the same machine
is refused with one line (two would take each other's runs for their own in recovery).
``smartcron tasks run`` asks :func:`daemon_starting_here` so that a manual run queued in the
first moment after ``smartcron run`` started, before its first heartbeat, is handed to that
daemon instead of being run in the CLI's own process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
from pathlib import Path
from types import TracebackType

from smartcron.config import Settings
from smartcron.errors import UserError


def lock_path(settings: Settings) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.@:-]", "_", settings.node)
    return Path(settings.run_dir) / f"runner-{safe}.lock"


class RunnerLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> RunnerLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def hold_runner_lock(settings: Settings) -> RunnerLock:
    """Take this node's daemon lock, or raise UserError naming the daemon that holds it."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise UserError(
                f"a runner for node {settings.node!r} is already running on this machine (pid {holder}); "
                "give this one another name (SMARTCRON_NODE) or stop that one"
            ) from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunnerLock(path, fd)


def daemon_starting_here(settings: Settings) -> bool:
    """True while a daemon of this node on this machine holds its lock (started, perhaps not beating yet)."""
    path = lock_path(settings)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
