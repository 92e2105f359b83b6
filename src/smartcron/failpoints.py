"""Named places where the fault tests make a smartcron process crash, as ``kill -9`` would.

A test starts a process with ``SMARTCRON_FAILPOINT=after_exit_before_record`` (a comma-separated
list; the setting ``failpoint``); when that process reaches the named place it sends itself
SIGKILL, so nothing after it runs: no ``finally``, no flush, no last heartbeat. With no failpoint
armed, :func:`hit` is one set lookup. The places:

``after_begin_before_spawn``
    a row is ``running`` under this runner's lease and its process has not been started.
``after_spawn_before_attach``
    the process runs, its pid is not in the row yet.
``after_exit_before_record``
    the process has exited and was reaped; its outcome is written nowhere yet.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

PLACES = frozenset({"after_begin_before_spawn", "after_spawn_before_attach", "after_exit_before_record"})
_armed: frozenset[str] = frozenset()


def arm(names: Iterable[str]) -> None:
    """Arm these failpoints for this process (from the ``failpoint`` setting, at start)."""
    global _armed
    chosen = frozenset(name for name in names if name)
    unknown = chosen - PLACES
    if unknown:
        from smartcron.errors import ConfigError

        raise ConfigError(f"setting failpoint (SMARTCRON_FAILPOINT): unknown failpoint {sorted(unknown)[0]!r}")
    _armed = chosen


def hit(name: str) -> None:
    """Crash here (SIGKILL to this process) when ``name`` is armed."""
    if name in _armed:
        os.kill(os.getpid(), signal.SIGKILL)
