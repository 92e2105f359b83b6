"""The "Why" section of a task's page: ``smartcron why`` for the last day, as lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import Task
from smartcron.domain.why_lines import WhyLine, next_lines, why_lines
from smartcron.errors import SmartcronError
from smartcron.services.why import DEFAULT_WINDOW, explain_task

SECONDS_WINDOW = timedelta(hours=1)
"""A schedule with seconds has thousands of slots a day: the page explains its last hour."""


@dataclass(frozen=True, slots=True)
class WhySection:
    window: str
    """``24 hours`` or ``hour``, for the heading."""
    lines: list[WhyLine]
    next: list[str]
    state: str | None
    truncated: bool


def explain_recent(state: Any, task: Task, now: datetime) -> WhySection | str:
    """The section for ``task`` at ``now``, or a one-line reason it cannot be shown."""
    settings = state.settings
    try:
        schedule = parse_schedule(task.spec.schedule, task.spec.timezone or settings.timezone, hash_key=task.name)
        window = SECONDS_WINDOW if schedule.has_seconds else DEFAULT_WINDOW
        report = explain_task(state.store, settings, task.name, since=now - window, now=now)
    except SmartcronError as exc:
        return exc.message
    return WhySection(
        window="hour" if window == SECONDS_WINDOW else "24 hours",
        lines=why_lines(report),
        next=next_lines(report),
        state=report.state,
        truncated=report.truncated,
    )
