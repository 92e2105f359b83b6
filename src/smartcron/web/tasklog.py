"""One run's full output, read from its task's log file.

Found as ``smartcron logs`` finds it (:mod:`smartcron.runner.process.runlog`): the run's lines between its
header and the next header of its task, in the task's log or a rotated copy. Logs are only ever
found from an execution id: the path comes from the task's category and name in the database, and
is checked to stay inside the log directory, so no request can name a file.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from smartcron.runner.process.runlog import locate_run_output

MAX_LOG_BYTES = 2 * 1024 * 1024
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RunLog:
    text: str
    found: bool
    truncated: bool
    source: str | None


def make_inert(text: str) -> str:
    """Terminal escapes and control characters removed: output shows as plain text, nothing more."""
    return _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


def read_run_log(log_dir: str | Path, *, category: str, name: str, execution_id: int) -> RunLog:
    """The output of run ``execution_id`` (at most ``MAX_LOG_BYTES``), made inert for display."""
    found = locate_run_output(log_dir, category=category, name=name, execution_id=execution_id)
    if found is None:
        return RunLog(text="", found=False, truncated=False, source=None)
    path, lines = found
    collected = bytearray()
    truncated = False
    try:
        for line in lines:
            if len(collected) + len(line) > MAX_LOG_BYTES:
                truncated = True
                break
            collected += line
    except (OSError, EOFError, gzip.BadGzipFile):  # a rotated copy cut short: show what was read
        truncated = True
    finally:
        lines.close()
    return RunLog(text=make_inert(collected.decode("utf-8", errors="replace")), found=True, truncated=truncated,
                  source=path.name)  # fmt: skip
