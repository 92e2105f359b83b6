"""The task registry as people change it: apply a task file, add, edit, remove, enable, pause.

Every change goes through here, whether it comes from the CLI, the dashboard or the API, so the
rules live once:

* ``next_run_at`` of a task is the first slot strictly after the moment it was added, changed,
  enabled or resumed. A resumed or re-enabled task does not catch up the slots it missed: pausing
  is an explicit decision, and it is recorded in the audit log instead.
* Editing a task whose schedule and time zone stay the same keeps its ``next_run_at``.
* A task that is disabled or paused has no ``next_run_at``.
* Built-in tasks (names starting ``smartcron.``) are never pruned or removed.
* Applying a task file is all or nothing: one transaction.
* Each task remembers where it was declared (``Task.origin``): a task file, or the door its
  actor came through (``cli:alice`` adds with origin ``cli``). A task a file adds, changes or
  lists becomes the file's, so pruning can tell the tasks a file gave up from tasks it never had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from smartcron.config import Settings
from smartcron.domain.schedule import Schedule, parse_schedule
from smartcron.domain.task import Task, TaskOrigin, TaskSpec
from smartcron.domain.taskfile import RESERVED_PREFIX, spec_from_mapping
from smartcron.errors import ConflictError, TaskSpecError
from smartcron.store import Store
from smartcron.store.audit import AuditRecord
from smartcron.store.tasks import TaskChange

__all__ = ["ApplyPlan", "FieldChange", "Registry", "TaskUpdate"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One key of a task that a change sets from ``old`` to ``new`` (values as in a task file)."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


def field_changes(old: TaskSpec, new: TaskSpec) -> tuple[FieldChange, ...]:
    before, after = old.to_dict(), new.to_dict()
    return tuple(FieldChange(name, before[name], after[name]) for name in old.changed_fields(new))


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    current: Task
    spec: TaskSpec
    changes: tuple[FieldChange, ...]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    """What applying a set of task definitions would do; nothing is written until ``apply``."""

    adds: tuple[TaskSpec, ...]
    updates: tuple[TaskUpdate, ...]
    removes: tuple[Task, ...]
    unchanged: tuple[str, ...]
    planned_at: datetime
    adopted: tuple[Task, ...] = ()
    """Unchanged tasks made elsewhere that the file now declares: only their origin changes."""

    @property
    def is_empty(self) -> bool:
        return not (self.adds or self.updates or self.removes)

    @property
    def removes_made_elsewhere(self) -> tuple[Task, ...]:
        """The removals of tasks that no task file declared: made with the CLI, the API, the
        dashboard or ``exec``, or before smartcron kept where tasks come from."""
        return tuple(task for task in self.removes if task.origin is not TaskOrigin.FILE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adds": [spec.to_dict() for spec in self.adds],
            "updates": [
                {"name": update.name, "changes": [change.to_dict() for change in update.changes]}
                for update in self.updates
            ],
            "removes": [task.name for task in self.removes],
            "removes_made_elsewhere": {task.name: origin_text(task) for task in self.removes_made_elsewhere},
            "unchanged": list(self.unchanged),
            "summary": {
                "added": len(self.adds),
                "changed": len(self.updates),
                "removed": len(self.removes),
                "unchanged": len(self.unchanged),
            },
        }


def origin_text(task: Task) -> str:
    """Where ``task`` was declared, in words for a person: ``cli``, or ``unknown`` for old rows."""
    return task.origin.value if task.origin else "unknown"


def origin_of_actor(actor: str) -> TaskOrigin | None:
    """The door an actor came through: ``web:bob`` is ``web``."""
    door = actor.partition(":")[0]
    try:
        return TaskOrigin(door)
    except ValueError:
        return None


class Registry:
    """Changes to registered tasks on behalf of ``actor`` (``cli:alice``, ``web:bob``, ``api:token``)."""

    def __init__(self, store: Store, settings: Settings, *, actor: str) -> None:
        self.store = store
        self.settings = settings
        self.actor = actor

    # Schedules -------------------------------------------------------------------------------

    def zone_of(self, spec: TaskSpec) -> str:
        return spec.timezone or self.settings.timezone

    def _schedule(self, spec: TaskSpec) -> Schedule:
        return parse_schedule(spec.schedule, self.zone_of(spec), hash_key=spec.name)

    def next_run_after(self, spec: TaskSpec, after: datetime) -> datetime:
        """The task's first slot strictly after ``after``, as an aware UTC time."""
        return self._schedule(spec).next_after(after).astimezone(UTC)

    def next_runs(self, spec: TaskSpec, after: datetime, count: int) -> list[datetime]:
        schedule = self._schedule(spec)
        found: list[datetime] = []
        moment = after
        for _ in range(count):
            moment = schedule.next_after(moment).astimezone(UTC)
            found.append(moment)
        return found

    def _first_run(self, spec: TaskSpec, *, paused: bool, now: datetime) -> datetime | None:
        return self.next_run_after(spec, now) if spec.enabled and not paused else None

    def _next_run_on_change(self, current: Task, spec: TaskSpec, now: datetime) -> datetime | None:
        if not (spec.enabled and not current.paused):
            return None
        same_slots = current.spec.schedule == spec.schedule and self.zone_of(current.spec) == self.zone_of(spec)
        if current.active and same_slots and current.next_run_at is not None:
            return current.next_run_at
        return self.next_run_after(spec, now)

    # Task files ------------------------------------------------------------------------------

    def plan_apply(self, specs: Sequence[TaskSpec], *, prune: bool, now: datetime) -> ApplyPlan:
        """Compare ``specs`` with the registry; with ``prune``, tasks absent from ``specs`` go."""
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                raise TaskSpecError("duplicate name", task=spec.name, field="name")
            if spec.name.lower().startswith(RESERVED_PREFIX):
                raise TaskSpecError(f"names starting with {RESERVED_PREFIX!r} are reserved", task=spec.name)
            seen.add(spec.name)
        current = {task.name: task for task in self.store.tasks.list()}
        adds: list[TaskSpec] = []
        updates: list[TaskUpdate] = []
        unchanged: list[str] = []
        adopted: list[Task] = []
        for spec in specs:
            task = current.get(spec.name)
            if task is None:
                adds.append(spec)
            elif task.spec == spec:
                unchanged.append(spec.name)
                if task.origin is not TaskOrigin.FILE:
                    adopted.append(task)
            else:
                updates.append(TaskUpdate(task, spec, field_changes(task.spec, spec)))
        removes = [task for name, task in current.items() if prune and name not in seen and not task.builtin]
        return ApplyPlan(
            tuple(adds), tuple(updates), tuple(removes), tuple(unchanged), planned_at=now, adopted=tuple(adopted)
        )

    def apply(self, plan: ApplyPlan, *, now: datetime) -> None:
        """Write the plan in one transaction: every change or none."""
        if plan.is_empty and not plan.adopted:
            return
        file = TaskOrigin.FILE
        changes = [
            TaskChange("add", spec, next_run_at=self._first_run(spec, paused=False, now=now), origin=file)
            for spec in plan.adds
        ]
        changes += [
            TaskChange(
                "update",
                update.spec,
                next_run_at=self._next_run_on_change(update.current, update.spec, now),
                origin=file,
            )
            for update in plan.updates
        ]
        changes += [TaskChange("remove", task.spec) for task in plan.removes]
        changes += [TaskChange("adopt", task.spec, origin=file) for task in plan.adopted]
        self.store.tasks.apply(
            changes,
            now=now,
            audit=[
                AuditRecord(self.actor, "task.add", spec.name, {"via": "apply", "spec": spec.to_dict()})
                for spec in plan.adds
            ]
            + [
                AuditRecord(self.actor, "task.edit", update.name, {"via": "apply", **_changes_detail(update.changes)})
                for update in plan.updates
            ]
            + [
                AuditRecord(self.actor, "task.remove", task.name, {"via": "apply", "spec": task.spec.to_dict()})
                for task in plan.removes
            ],
        )

    # One task at a time ----------------------------------------------------------------------

    def add(self, spec: TaskSpec, *, now: datetime, origin: TaskOrigin | None = None) -> Task:
        """Register ``spec``; ``origin`` defaults to the door of the actor (``cli``, ``web``, ``api``)."""
        if spec.name.lower().startswith(RESERVED_PREFIX):
            raise TaskSpecError(f"names starting with {RESERVED_PREFIX!r} are reserved", task=spec.name, field="name")
        return self.store.tasks.add(
            spec,
            now=now,
            next_run_at=self._first_run(spec, paused=False, now=now),
            origin=origin or origin_of_actor(self.actor),
            audit=[self._record("task.add", spec.name, {"spec": spec.to_dict()})],
        )

    def edit(self, name: str, changes: Mapping[str, Any], *, now: datetime) -> Task:
        """Change some keys of a task; the result is checked like a task file entry."""
        task = self.store.tasks.get(name)
        if "name" in changes and changes["name"] != name:
            raise TaskSpecError(
                "cannot be changed; add the task under the new name and remove this one", task=name, field="name"
            )
        merged = task.spec.to_dict() | dict(changes)
        spec = spec_from_mapping(merged, default_timezone=self.settings.timezone, allow_reserved_name=task.builtin)
        if spec == task.spec:
            return task
        return self.store.tasks.update(
            spec,
            now=now,
            next_run_at=self._next_run_on_change(task, spec, now),
            audit=[self._record("task.edit", name, _changes_detail(field_changes(task.spec, spec)))],
        )

    def remove(self, name: str, *, now: datetime, keep_file_tasks: bool = False) -> None:
        """Unregister ``name`` and its history. With ``keep_file_tasks`` (the API without
        ``force``), a task a task file declared is refused (``ConflictError``): the next ``tasks
        apply`` of that file would add it back, so removing it here alone is usually a mistake."""
        task = self.store.tasks.get(name)
        if task.builtin:
            raise TaskSpecError("is a built-in task and cannot be removed; disable it instead", task=name)
        from_file = task.origin is TaskOrigin.FILE
        if keep_file_tasks and from_file:
            raise ConflictError(
                f"task {name!r} was declared in a task file, whose next `tasks apply` adds it back: "
                "remove it from the file, or force the removal"
            )
        details: dict[str, Any] = {"spec": task.spec.to_dict()}
        if from_file:
            details["origin"] = TaskOrigin.FILE.value
        self.store.tasks.remove(name, now=now, audit=[self._record("task.remove", name, details)])

    def enable(self, name: str, *, now: datetime) -> Task:
        task = self.store.tasks.get(name)
        if task.spec.enabled:
            return task
        spec = replace(task.spec, enabled=True)
        next_run = self._first_run(spec, paused=task.paused, now=now)
        return self._set_flags(name, "task.enable", now=now, enabled=True, next_run_at=next_run)

    def disable(self, name: str, *, now: datetime) -> Task:
        task = self.store.tasks.get(name)
        if not task.spec.enabled:
            return task
        return self._set_flags(name, "task.disable", now=now, enabled=False, next_run_at=None)

    def pause(self, name: str, *, now: datetime) -> Task:
        task = self.store.tasks.get(name)
        if task.paused:
            return task
        return self._set_flags(name, "task.pause", now=now, paused=True, next_run_at=None)

    def resume(self, name: str, *, now: datetime) -> Task:
        task = self.store.tasks.get(name)
        if not task.paused:
            return task
        next_run = self._first_run(task.spec, paused=False, now=now)
        return self._set_flags(name, "task.resume", now=now, paused=False, next_run_at=next_run)

    def _set_flags(
        self,
        name: str,
        action: str,
        *,
        now: datetime,
        next_run_at: datetime | None,
        enabled: bool | None = None,
        paused: bool | None = None,
    ) -> Task:
        return self.store.tasks.set_flags(
            name,
            now=now,
            enabled=enabled,
            paused=paused,
            next_run_at=next_run_at,
            reset_next_run=True,
            audit=[self._record(action, name, None)],
        )

    def _record(self, action: str, target: str, details: dict[str, Any] | None) -> AuditRecord:
        return AuditRecord(self.actor, action, target, details)


def _changes_detail(changes: Sequence[FieldChange]) -> dict[str, Any]:
    return {"changes": {change.field: {"old": change.old, "new": change.new} for change in changes}}
