"""Crontab lines wrapped in ``smartcron exec``: cron starts them, smartcron only notices when it did not.

Such a task (origin ``exec``) is never planned by smartcron; its schedule is the crontab line's.
A slot of it that passed more than ``LATE_AFTER`` ago without a run starting near it means cron
did not run the line (cron stopped, the line was removed, the machine was down): the check
``wrapped_tasks`` warns, naming the tasks and the slot they missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus
from smartcron.domain.health import CheckResult
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import TaskOrigin
from smartcron.errors import ScheduleError
from smartcron.store import Store

LATE_AFTER = timedelta(minutes=5)
"""A wrapped line's slot counts as missed once this long has passed without its run."""
EARLY = timedelta(minutes=1)
"""A run that started up to this long before its slot counts for it (cron's clock, ours)."""


def check_wrapped_tasks(store: Store, settings: Settings, now: datetime) -> CheckResult:
    late = []
    wrapped = [task for task in store.tasks.list(active_only=True) if task.origin is TaskOrigin.EXEC]
    for task in wrapped:
        try:
            schedule = parse_schedule(task.spec.schedule, task.spec.timezone or settings.timezone, hash_key=task.name)
        except ScheduleError:
            continue
        since = task.created_at or now
        slot = schedule.latest_at_or_before(now - LATE_AFTER, not_before=since)
        if slot is None:
            continue
        started = task.last_started_at
        if started is None or started < slot - EARLY:
            late.append(f"{task.name} (no run for {slot.isoformat(timespec='minutes')})")
    if not late:
        return CheckResult("wrapped_tasks", CheckStatus.OK, 0, f"{len(wrapped)} wrapped crontab line(s) on time")
    return CheckResult(
        "wrapped_tasks",
        CheckStatus.WARN,
        float(len(late)),
        f"cron did not run {len(late)} wrapped line(s): {', '.join(late[:5])}" + (" and more" if len(late) > 5 else ""),
    )
