"""The registry written out as a task file (``smartcron tasks export``).

The file is the one ``smartcron tasks apply`` takes back unchanged: applying it to the registry it
came from adds, changes and removes nothing. Each task lists its required keys and every key
that differs from the default, in the task file's order; built-in tasks are left out, as
``smartcron init`` registers them (and ``apply`` refuses their reserved names). Written with
tomli-w, so every string, list and table is valid TOML whatever it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import tomli_w

from smartcron.domain.task import Task, TaskSpec

ALWAYS = ("name", "command", "schedule")
"""Keys written even when they hold nothing unusual: a task file needs them."""


def spec_as_table(spec: TaskSpec) -> dict[str, Any]:
    """``spec`` as a ``[[task]]`` table: the required keys and those that differ from the default."""
    default = TaskSpec(name=spec.name, command=spec.command, schedule=spec.schedule).to_dict()
    table: dict[str, Any] = {}
    for key, value in spec.to_dict().items():
        if value is None or (key not in ALWAYS and value == default[key]):
            continue
        table[key] = value
    if spec.shell:  # read before command, so a shell string reads as one
        table = {"name": table.pop("name"), "shell": table.pop("shell"), **table}
    return table


def export_task_file(tasks: Iterable[Task], *, now: datetime, source: str) -> str:
    """A task file declaring ``tasks`` (built-in ones left out), with a header naming ``source``."""
    own = [task for task in tasks if not task.builtin]
    lines = [
        f"# Task file exported from {_comment(source)} at {now.isoformat(timespec='seconds')}"
        " by `smartcron tasks export`.",
        "# `smartcron tasks apply FILE` takes it back unchanged; built-in tasks (smartcron.*) are",
        "# not listed, `smartcron init` registers them.",
    ]
    for task in own:
        lines.append("")
        if task.paused:
            lines.append("# paused (not a task-file key): `smartcron tasks resume NAME` to resume it")
        lines.append(tomli_w.dumps({"task": [spec_as_table(task.spec)]}).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    """Text safe inside a TOML comment: no control characters."""
    return "".join(ch if ch == "\t" or (ch >= " " and ch != "\x7f") else "?" for ch in text)
