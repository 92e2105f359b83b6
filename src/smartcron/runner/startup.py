"""What ``smartcron run`` and ``smartcron tick`` set up before their first pass.

* One :class:`~.scheduling.connectivity.DatabaseStatus` for the process, with a status file in
  the run directory and the database-outage alert, which goes out through the alert channels
  directly (``alert_hooks.send_outage_alert``), not through the database.
* A daemon started while its database is unreachable waits for it (saying so once, trying again
  with backoff) instead of exiting: under systemd or a supervisor a restart loop would only be
  noisier. A schema this code cannot use still ends it at once, with one line.
"""

from __future__ import annotations

import os
import random
import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.errors import StoreUnavailableError
from smartcron.runner.scheduling.alert_hooks import send_outage_alert
from smartcron.runner.scheduling.connectivity import DatabaseStatus, backoff

T = TypeVar("T")


def status_file(settings: Settings, role: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.@:-]", "_", settings.node)
    return Path(settings.run_dir) / f"runner-{safe}-{role}.status.json"


def database_status_for(settings: Settings, clock: Clock, *, role: str) -> DatabaseStatus:
    node = settings.node

    def outage(since: datetime, reason: str) -> None:
        send_outage_alert(settings, node=node, since=since, reason=reason)

    def back(since: datetime) -> None:
        send_outage_alert(settings, node=node, since=since, reason="", back=True)

    return DatabaseStatus(
        clock=clock,
        status_file=status_file(settings, role),
        identity={"node": node, "role": role, "pid": os.getpid()},
        alert_after=settings.alert_database_down_after,
        on_outage=outage,
        on_back=back,
    )


def wait_for_database(connect: Callable[[], T], status: DatabaseStatus, stop: threading.Event) -> T | None:
    """``connect()`` until it works, telling ``status`` of each failure to reach the database;
    None when ``stop`` is set first. Other errors (a schema to upgrade) are raised at once."""
    rng = random.Random()
    failures = 0
    while not stop.is_set():
        try:
            connected = connect()
        except StoreUnavailableError as exc:
            status.failed(exc)
            failures += 1
            stop.wait(backoff(failures, rng))
            continue
        status.succeeded()
        return connected
    return None
