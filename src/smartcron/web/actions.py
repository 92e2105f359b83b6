"""What a click or an API call changes. Thin: each action calls the service that owns the rule
and records who did it. The dashboard never runs a task itself: "run now" queues a manual run
that the runner starts within a second (daemon) or at its next tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smartcron.config import Settings
from smartcron.domain.alerts import Alert
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task, TaskOrigin
from smartcron.domain.taskfile import spec_from_mapping
from smartcron.registry.service import Registry
from smartcron.services.alert_actions import acknowledge_alert, resolve_alert, snooze_alert
from smartcron.services.cancel import cancel_run
from smartcron.services.manual_run import queue_manual_run
from smartcron.store import Store
from smartcron.web.auth import Principal


@dataclass(frozen=True, slots=True)
class Queued:
    task: str
    execution_id: int


class Actions:
    def __init__(self, store: Store, settings: Settings, principal: Principal) -> None:
        self._store = store
        self._settings = settings
        self._actor = f"web:{principal.actor}"
        self._registry = Registry(store, settings, actor=self._actor)

    def run_now(self, name: str, *, again_of: int | None = None) -> Queued:
        """Queue a manual run; ``again_of`` is the run whose page asked for it ("Run again", "Retry")."""
        task = self._store.tasks.get(name)
        execution_id = queue_manual_run(self._store, task, by=self._actor, again_of=again_of)
        return Queued(task=name, execution_id=execution_id)

    def run_again(self, execution_id: int) -> tuple[Execution, Queued]:
        """A new manual run of the task of run ``execution_id``; that run and the queued one."""
        run = self._store.executions.get(execution_id)
        return run, self.run_now(run.task_name, again_of=run.id)

    def cancel(self, execution_id: int) -> Execution:
        """Stop a run (:func:`smartcron.services.cancel.cancel_run`)."""
        return cancel_run(self._store, execution_id, by=self._actor)

    def pause(self, name: str) -> Task:
        return self._registry.pause(name, now=self._store.database_now())

    def resume(self, name: str) -> Task:
        return self._registry.resume(name, now=self._store.database_now())

    def create(self, fields: Mapping[str, Any], *, origin: TaskOrigin) -> Task:
        """Register a task from task-file keys (admins); checked like a task file entry."""
        spec = spec_from_mapping(fields, default_timezone=self._settings.timezone)
        return self._registry.add(spec, now=self._store.database_now(), origin=origin)

    def delete(self, name: str, *, force: bool) -> None:
        """Unregister a task (admins); one a task file declared only with ``force``."""
        self._registry.remove(name, now=self._store.database_now(), keep_file_tasks=not force)

    def edit(self, name: str, changes: Mapping[str, Any]) -> Task:
        """Change some task-file keys of a task (admins); checked like a task file entry."""
        return self._registry.edit(name, changes, now=self._store.database_now())

    def acknowledge(self, alert_id: int) -> Alert:
        return acknowledge_alert(self._store, self._settings, alert_id, by=self._actor)

    def resolve(self, alert_id: int) -> Alert:
        return resolve_alert(self._store, self._settings, alert_id, by=self._actor)

    def snooze(self, alert_id: int, *, duration: str | float | None = None, until: datetime | None = None) -> Alert:
        return snooze_alert(self._store, alert_id, by=self._actor, duration=duration, until=until)
