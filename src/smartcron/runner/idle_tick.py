"""``smartcron tick`` when there is nothing to do: answered with the standard library's ``sqlite3``.

Cron starts ``smartcron tick`` every minute, and most minutes nothing is due. Importing SQLAlchemy,
the store, the engine and click costs several times what the whole tick then does, so on SQLite a
plain ``smartcron tick`` first asks the database, in one short read with ``sqlite3``:

* is the schema the one this code needs;
* is any task due, any run live (scheduled, or running: perhaps its runner died), any retry owed,
  any notification or alert message due, anything left in this node's spool?

If all answers are no, it writes the tick's heartbeat (as a tick that ended) and is done. Any
yes, any error, anything it does not expect (no database file, another database, ``--json``) and
it steps aside: the full tick runs as always, and decides everything itself. So this path can
only ever skip work there is none of; it never does work of its own.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from smartcron import __version__
from smartcron.clock import system_clock
from smartcron.config import Settings
from smartcron.revisions import head_from_files

RETRY_LOOKBACK = timedelta(days=1)
"""As ``scheduling.recovery.RETRY_LOOKBACK``: failures older than this owe no retry."""
FAILURES = ("failed", "timeout", "killed", "abandoned", "unknown_outcome", "superseded")

_WORK_QUERIES = (
    # A task due now.
    "SELECT 1 FROM smart_cron_tasks_config WHERE next_run_at <= :now AND enabled = 1 AND paused = 0 LIMIT 1",
    # A live row (spelled as the partial index's WHERE, so SQLite uses it).
    "SELECT 1 FROM smart_cron_executions WHERE status IN ('scheduled', 'running') LIMIT 1",
    # A notification to send, or an alert whose message is due.
    "SELECT 1 FROM smart_cron_notifications WHERE state IN ('pending', 'sending') AND next_attempt_at <= :now LIMIT 1",
    "SELECT 1 FROM smart_cron_alerts WHERE notify_after <= :now LIMIT 1",
    # A retry owed (ExecutionRepository.retries_owed, read more widely: any such failure counts).
    "SELECT 1 FROM smart_cron_executions e JOIN smart_cron_tasks_config t ON t.id = e.task_id "
    "WHERE e.finished_at >= :since AND e.status IN ({failures}) AND e.error_category = 'recoverable' "
    "AND e.trigger != 'manual' AND e.attempt < t.retries AND t.enabled = 1 AND t.paused = 0 "
    "AND NOT EXISTS (SELECT 1 FROM smart_cron_executions n WHERE n.task_id = e.task_id "
    "AND n.scheduled_for = e.scheduled_for AND n.attempt = e.attempt + 1) LIMIT 1",
)


def _millis(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + (delta.microseconds // 1000)


def _sqlite_path(database_url: str) -> Path | None:
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or "?" in database_url:
        return None
    path = database_url[len(prefix) :]
    return Path(path) if path and path != ":memory:" else None


def _spool_empty(settings: Settings) -> bool:
    spool = Path(settings.data_dir) / "spool"
    try:
        return not any(spool.rglob("*.json"))
    except OSError:
        return False


def tick_if_idle(settings: Settings) -> bool:
    """True when there was nothing to do and the heartbeat is written; False: run the full tick."""
    path = _sqlite_path(settings.database_url)
    if path is None or settings.failpoint or not _spool_empty(settings):
        return False
    head = head_from_files()
    now = system_clock(settings.clock_offset_file).now()
    values = {"now": _millis(now), "since": _millis(now - RETRY_LOOKBACK)}
    failures = ", ".join(f"'{status}'" for status in FAILURES)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if head is None or found is None or found[0] != head:
            return False
        for query in _WORK_QUERIES:
            if conn.execute(query.format(failures=failures), values).fetchone() is not None:
                return False
        _beat(conn, settings, now)
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _beat(conn: sqlite3.Connection, settings: Settings, now: datetime) -> None:
    """The heartbeat of a tick that has ended (as ``LeaseKeeper.stop`` writes it)."""
    info = {
        "active": False,
        "state": "stopped",
        "running": 0,
        "tags": list(settings.node_tags),
        "host": socket.gethostname(),
        "clock_offset_ms": 0,
        "lease_seconds": settings.runner_lease_seconds,
        "heartbeat_seconds": settings.runner_heartbeat_interval,
    }
    stamp = _millis(now)
    conn.execute(
        "INSERT INTO smart_cron_nodes (name, role, pid, started_at, heartbeat_at, version, info) "
        "VALUES (:name, 'tick', :pid, :now, :now, :version, :info) "
        "ON CONFLICT (name, role) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, "
        "heartbeat_at = excluded.heartbeat_at, version = excluded.version, info = excluded.info",
        {
            "name": settings.node,
            "pid": os.getpid(),
            "now": stamp,
            "version": __version__,
            "info": json.dumps(info, separators=(",", ":"), sort_keys=True),
        },
    )
