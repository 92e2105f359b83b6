"""smartcron's own log files, in the seed's layout under the log directory.

``master.log`` (runner and ticks), ``health.log``, ``cleanup.log`` (maintenance), ``errors.log``
(every ERROR from any component). Task output goes to ``tasks/<category>_<task>.log``, written by
the runner, not through ``logging``. Files are opened in append mode and reopened when rotation
renames them (``WatchedFileHandler``), so several processes can write and rotate safely.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

COMPONENT_FILES = {
    "runner": "master.log",
    "tick": "master.log",
    "health": "health.log",
    "maintenance": "cleanup.log",
    "web": "master.log",
    "cli": "master.log",
    "exec": "master.log",
}
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class _FieldsFormatter(logging.Formatter):
    """Appends structured fields (``extra={"task": ..., "execution": ...}``) as key=value."""

    FIELDS = ("task", "execution", "action", "node")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [f"{k}={getattr(record, k)}" for k in self.FIELDS if hasattr(record, k)]
        return f"{text} {' '.join(extras)}" if extras else text


def task_log_path(log_dir: str | Path, category: str, name: str) -> Path:
    return Path(log_dir) / "tasks" / f"{category}_{name}.log"


def configure(log_dir: str | Path, component: str, *, verbose: bool = False, console: bool = False) -> None:
    """Send this process's logging to the component's file and to errors.log. Idempotent."""
    root = logging.getLogger("smartcron")
    if getattr(root, "_smartcron_configured", None) == (str(log_dir), component):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    formatter = _FieldsFormatter(FORMAT)
    directory = Path(log_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        main = logging.handlers.WatchedFileHandler(directory / COMPONENT_FILES.get(component, "master.log"))
        main.setFormatter(formatter)
        root.addHandler(main)
        errors = logging.handlers.WatchedFileHandler(directory / "errors.log")
        errors.setLevel(logging.ERROR)
        errors.setFormatter(formatter)
        root.addHandler(errors)
    except OSError as exc:  # an unwritable log dir must not stop the scheduler; say so on stderr
        print(f"smartcron: cannot write logs in {directory}: {exc.strerror}", file=sys.stderr)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)
    # SQLAlchemy's pool logs a traceback (through logging's last resort: on stderr) for every
    # connection whose reset fails as it is handed back, which is every connection in use when the
    # server goes away. The pool discards such a connection by itself, and what the outage means
    # is said once by the runner (runner/scheduling/connectivity.py); the traceback says nothing more.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    root._smartcron_configured = (str(log_dir), component)  # type: ignore[attr-defined]
