"""The task registry in ``smart_cron_tasks_config``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from smartcron.domain.enums import CatchupPolicy, ExecutionStatus, OverlapPolicy
from smartcron.domain.task import Task, TaskOrigin, TaskSpec
from smartcron.errors import NotFoundError, TaskExistsError
from smartcron.store.audit import AuditRecord, insert_records
from smartcron.store.schema import tasks as t


def spec_to_row(spec: TaskSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "command": list(spec.command),
        "shell": spec.shell,
        "working_dir": spec.working_dir,
        "env": dict(spec.env) or None,
        "schedule": spec.schedule,
        "timezone": spec.timezone,
        "enabled": spec.enabled,
        "priority": spec.priority,
        "notify_on_failure": spec.notify_on_failure,
        "timeout": spec.timeout,
        "kill_grace": spec.kill_grace,
        "retries": spec.retries,
        "retry_delay": spec.retry_delay,
        "retry_max_delay": spec.retry_max_delay,
        "fatal_exit_codes": list(spec.fatal_exit_codes) or None,
        "max_memory_mb": spec.max_memory_mb,
        "max_cpu_seconds": spec.max_cpu_seconds,
        "nice": spec.nice,
        "overlap": spec.overlap.value,
        "catchup": spec.catchup.value,
        "starting_deadline": spec.starting_deadline,
        "max_output_kb": spec.max_output_kb,
        "notify_emails": list(spec.notify_emails) or None,
        "nodes": list(spec.nodes) or None,
        "retry_unknown_outcome": spec.retry_unknown_outcome,
    }


def row_to_spec(row: RowMapping | Mapping[str, Any]) -> TaskSpec:
    return TaskSpec(
        name=row["name"],
        category=row["category"],
        description=row["description"] or "",
        command=tuple(row["command"]),
        shell=bool(row["shell"]),
        working_dir=row["working_dir"],
        env=tuple(sorted((row["env"] or {}).items())),
        schedule=row["schedule"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        priority=int(row["priority"]),
        notify_on_failure=bool(row["notify_on_failure"]),
        timeout=int(row["timeout"]),
        kill_grace=int(row["kill_grace"]),
        retries=int(row["retries"]),
        retry_delay=int(row["retry_delay"]),
        retry_max_delay=int(row["retry_max_delay"]),
        fatal_exit_codes=tuple(row["fatal_exit_codes"] or ()),
        max_memory_mb=row["max_memory_mb"],
        max_cpu_seconds=row["max_cpu_seconds"],
        nice=row["nice"],
        overlap=OverlapPolicy(row["overlap"]),
        catchup=CatchupPolicy(row["catchup"]),
        starting_deadline=row["starting_deadline"],
        max_output_kb=int(row["max_output_kb"]),
        notify_emails=tuple(row["notify_emails"] or ()),
        nodes=tuple(row["nodes"] or ()),
        retry_unknown_outcome=bool(row["retry_unknown_outcome"]),
    )


def row_to_task(row: RowMapping | Mapping[str, Any]) -> Task:
    return Task(
        id=int(row["id"]),
        spec=row_to_spec(row),
        paused=bool(row["paused"]),
        builtin=bool(row["builtin"]),
        origin=_origin(row["origin"]),
        next_run_at=row["next_run_at"],
        last_execution_id=row["last_execution_id"],
        last_status=ExecutionStatus(row["last_status"]) if row["last_status"] else None,
        last_started_at=row["last_started_at"],
        last_finished_at=row["last_finished_at"],
        last_duration_ms=row["last_duration_ms"],
        last_success_at=row["last_success_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _origin(value: str | None) -> TaskOrigin | None:
    try:
        return TaskOrigin(value) if value else None
    except ValueError:  # written by a newer smartcron
        return None


@dataclass(frozen=True, slots=True)
class TaskChange:
    """One change of a registry sync, applied with the others in one transaction."""

    action: str  # "add", "update", "remove", "adopt" (only the origin changes)
    spec: TaskSpec
    next_run_at: datetime | None = None
    builtin: bool = False
    origin: TaskOrigin | None = None
    """Set by an add, an update or an adopt; an update without one keeps the task's."""


@dataclass(frozen=True, slots=True)
class TaskActivityFlags:
    overlap: OverlapPolicy
    enabled: bool
    paused: bool
    runs_here: bool


def activity_flags_of(task: Task, node: str, tags: Sequence[str] = ()) -> TaskActivityFlags:
    """The flags of a task already read (``TaskRepository.activity_flags`` reads them alone)."""
    spec = task.spec
    return TaskActivityFlags(spec.overlap, spec.enabled, task.paused, spec.runs_on(node, tags))


@dataclass(frozen=True, slots=True)
class TaskState:
    """Whether a task runs, without the rest of it: what the health scorecard looks at."""

    name: str
    enabled: bool
    paused: bool
    next_run_at: datetime | None

    @property
    def active(self) -> bool:
        return self.enabled and not self.paused


def _new_row(
    spec: TaskSpec, *, now: datetime, next_run_at: datetime | None, builtin: bool, origin: TaskOrigin | None
) -> dict[str, Any]:
    if origin is None and builtin:
        origin = TaskOrigin.BUILTIN
    return spec_to_row(spec) | {
        "builtin": builtin,
        "origin": origin.value if origin else None,
        "next_run_at": next_run_at,
        "created_at": now,
        "updated_at": now,
    }


TaskList = list[Task]
TaskStates = list[TaskState]


class TaskRepository:
    """Tasks by name. Names are unique; a duplicate add raises ``TaskExistsError`` (a ``TaskSpecError``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        spec: TaskSpec,
        *,
        now: datetime,
        next_run_at: datetime | None,
        builtin: bool = False,
        origin: TaskOrigin | None = None,
        audit: Sequence[AuditRecord] = (),
    ) -> Task:
        with self._engine.begin() as conn:
            self._insert(conn, spec, now=now, next_run_at=next_run_at, builtin=builtin, origin=origin)
            insert_records(conn, audit, now=now)
        return self.get(spec.name)

    def _insert(
        self,
        conn: Connection,
        spec: TaskSpec,
        *,
        now: datetime,
        next_run_at: datetime | None,
        builtin: bool,
        origin: TaskOrigin | None,
    ) -> None:
        row = _new_row(spec, now=now, next_run_at=next_run_at, builtin=builtin, origin=origin)
        try:
            with conn.begin_nested():
                conn.execute(insert(t), [row])
        except IntegrityError:
            raise TaskExistsError("a task with this name already exists", task=spec.name, field="name") from None

    def _insert_all(self, conn: Connection, adds: Sequence[TaskChange], *, now: datetime) -> None:
        """One statement for many new tasks (10,000 took 15-20 s one by one); when one of them
        exists already, each again on its own, to say which."""
        if not adds:
            return
        rows = [_new_row(c.spec, now=now, next_run_at=c.next_run_at, builtin=c.builtin, origin=c.origin) for c in adds]
        try:
            with conn.begin_nested():
                conn.execute(insert(t), rows)
        except IntegrityError:
            for c in adds:
                self._insert(conn, c.spec, now=now, next_run_at=c.next_run_at, builtin=c.builtin, origin=c.origin)
            raise  # not reached unless the conflict went away meanwhile: still no partial change

    def update(
        self, spec: TaskSpec, *, now: datetime, next_run_at: datetime | None, audit: Sequence[AuditRecord] = ()
    ) -> Task:
        with self._engine.begin() as conn:
            self._update(conn, spec, now=now, next_run_at=next_run_at)
            insert_records(conn, audit, now=now)
        return self.get(spec.name)

    def _update(
        self,
        conn: Connection,
        spec: TaskSpec,
        *,
        now: datetime,
        next_run_at: datetime | None,
        origin: TaskOrigin | None = None,
    ) -> None:
        values = spec_to_row(spec) | {"updated_at": now, "next_run_at": next_run_at}
        if origin is not None:
            values["origin"] = origin.value
        result = conn.execute(update(t).where(t.c.name == spec.name).values(**values))
        if result.rowcount == 0:
            raise NotFoundError(f"no task named {spec.name!r}")

    def remove(self, name: str, *, now: datetime | None = None, audit: Sequence[AuditRecord] = ()) -> None:
        with self._engine.begin() as conn:
            if conn.execute(delete(t).where(t.c.name == name)).rowcount == 0:
                raise NotFoundError(f"no task named {name!r}")
            if audit:
                assert now is not None, "audit entries need the time of the change"
                insert_records(conn, audit, now=now)

    def apply(self, changes: Sequence[TaskChange], *, now: datetime, audit: Sequence[AuditRecord] = ()) -> None:
        """Apply every change, and write their audit entries, or none. Removals go first (a name
        removed may be added again), then additions, then updates, then adoptions (a task a file
        now declares, unchanged otherwise: only its origin is written)."""
        by_action: dict[str, list[TaskChange]] = {"remove": [], "add": [], "update": [], "adopt": []}
        for change in changes:
            if change.action not in by_action:
                raise ValueError(f"unknown change {change.action!r}")
            by_action[change.action].append(change)
        with self._engine.begin() as conn:
            insert_records(conn, audit, now=now)
            if by_action["remove"]:
                conn.execute(delete(t).where(t.c.name.in_([c.spec.name for c in by_action["remove"]])))
            self._insert_all(conn, by_action["add"], now=now)
            for change in by_action["update"]:
                self._update(conn, change.spec, now=now, next_run_at=change.next_run_at, origin=change.origin)
            for change in by_action["adopt"]:
                origin = change.origin.value if change.origin else None
                conn.execute(update(t).where(t.c.name == change.spec.name).values(origin=origin))

    def get(self, name: str) -> Task:
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).mappings().first()
        if row is None:
            raise NotFoundError(f"no task named {name!r}")
        return row_to_task(row)

    def get_by_id(self, task_id: int) -> Task:
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == task_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no task with id {task_id}")
        return row_to_task(row)

    def find(self, name: str) -> Task | None:
        try:
            return self.get(name)
        except NotFoundError:
            return None

    def list(self, *, category: str | None = None, active_only: bool = False) -> list[Task]:
        query = select(t).order_by(t.c.category, t.c.name)
        if category:
            query = query.where(t.c.category == category)
        if active_only:
            query = query.where(t.c.enabled.is_(True), t.c.paused.is_(False))
        with self._engine.connect() as conn:
            return [row_to_task(r) for r in conn.execute(query).mappings()]

    def states(self) -> TaskStates:
        """Every task's name, flags and next run, by name: four columns instead of whole tasks
        (building 1,000 ``Task`` objects took 40 ms of the dashboard's scorecard refresh)."""
        query = select(t.c.name, t.c.enabled, t.c.paused, t.c.next_run_at).order_by(t.c.name)
        with self._engine.connect() as conn:
            return [
                TaskState(name, bool(enabled), bool(paused), at) for name, enabled, paused, at in conn.execute(query)
            ]

    def count(self) -> int:
        from sqlalchemy import func

        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    def due(self, now: datetime, *, node: str | None = None, tags: Sequence[str] = ()) -> TaskList:
        """Active tasks whose next slot is at or before ``now`` (and, given a node, may run on it:
        ``TaskSpec.runs_on``)."""
        query = (
            select(t)
            .where(t.c.next_run_at <= now, t.c.enabled.is_(True), t.c.paused.is_(False))
            .order_by(t.c.next_run_at, t.c.priority)
        )
        with self._engine.connect() as conn:
            found = [row_to_task(r) for r in conn.execute(query).mappings()]
        if node is None:
            return found
        return [task for task in found if task.spec.runs_on(node, tags)]

    def next_wakeup(self, after: datetime | None = None) -> datetime | None:
        """The earliest ``next_run_at`` of an active task (later than ``after``, when given)."""
        from sqlalchemy import func

        query = select(func.min(t.c.next_run_at)).where(t.c.enabled.is_(True), t.c.paused.is_(False))
        if after is not None:
            query = query.where(t.c.next_run_at > after)
        with self._engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    def advance(self, moves: Iterable[tuple[int, datetime | None, datetime | None]]) -> int:
        """Move ``next_run_at`` forward: (task id, expected current value, new value).

        Compare-and-swap, so two runners planning the same task agree: the one that loses moves
        nothing and has claimed nothing the other did not also claim through the slot key.
        Returns how many tasks moved.
        """
        from smartcron.store.slots import advance_tasks

        with self._engine.begin() as conn:
            return advance_tasks(conn, list(moves))

    def set_next_run(self, task_id: int, next_run_at: datetime | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == task_id).values(next_run_at=next_run_at))

    def set_flags(
        self,
        name: str,
        *,
        now: datetime,
        enabled: bool | None = None,
        paused: bool | None = None,
        next_run_at: datetime | None = None,
        reset_next_run: bool = False,
        audit: Sequence[AuditRecord] = (),
    ) -> Task:
        values: dict[str, Any] = {"updated_at": now}
        if enabled is not None:
            values["enabled"] = enabled
        if paused is not None:
            values["paused"] = paused
        if reset_next_run:
            values["next_run_at"] = next_run_at
        with self._engine.begin() as conn:
            if conn.execute(update(t).where(t.c.name == name).values(**values)).rowcount == 0:
                raise NotFoundError(f"no task named {name!r}")
            insert_records(conn, audit, now=now)
        return self.get(name)

    def by_ids(self, ids: Iterable[int]) -> dict[int, Task]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.id.in_(wanted))).mappings()
            return {int(r["id"]): row_to_task(r) for r in rows}

    def activity_flags(
        self, ids: Iterable[int], *, node: str, tags: Sequence[str] = ()
    ) -> dict[int, TaskActivityFlags]:
        """What choosing which waiting runs start needs of each task, without reading (and
        building) every task in full: its overlap policy, whether it is enabled or paused, and
        whether it may run on ``node``."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        query = select(t.c.id, t.c.overlap, t.c.nodes, t.c.enabled, t.c.paused).where(t.c.id.in_(wanted))
        with self._engine.connect() as conn:
            return {
                int(task_id): TaskActivityFlags(
                    overlap=OverlapPolicy(overlap),
                    enabled=bool(enabled),
                    paused=bool(paused),
                    runs_here=not nodes or node in nodes or any(tag in nodes for tag in tags),
                )
                for task_id, overlap, nodes, enabled, paused in conn.execute(query)
            }

    def search(self, text: str) -> TaskList:
        like = f"%{text}%"
        query = select(t).where(or_(t.c.name.like(like), t.c.category.like(like))).order_by(t.c.name)
        with self._engine.connect() as conn:
            return [row_to_task(r) for r in conn.execute(query).mappings()]
