"""Alerts in ``smart_cron_alerts``.

Concurrency contract:

* **One open alert per (task, kind).** ``open_key`` is UNIQUE while the alert is open or
  acknowledged and NULL once resolved. ``raise_or_repeat`` updates the open row first and inserts
  only when there is none; an insert that loses the race to another process becomes an update.
  Either way the caller ends with the one open row, its ``count`` raised exactly once per call.
* **A message is owed from ``notify_after``.** The dispatcher takes the debt with a
  compare-and-swap that moves ``notify_after`` forward (``NotificationRepository.queue``), so two
  dispatchers never both announce the same alert.
* Lock waits that end in a deadlock (MySQL/MariaDB gap locks, PostgreSQL) are retried: the
  transaction is repeated from the start, which is safe because each one is idempotent per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, case, delete, func, insert, literal, not_, null, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from smartcron.domain.alerts import Alert, open_key
from smartcron.domain.enums import AlertState, Severity
from smartcron.domain.silences import Silence
from smartcron.errors import ConflictError, NotFoundError, UserError
from smartcron.store.engine import retry_on_deadlock, write_transaction
from smartcron.store.schema import alerts as a
from smartcron.store.schema import tasks as t
from smartcron.store.silences import silenced_alert
from smartcron.store.types import UtcDateTime

T = TypeVar("T")
ACTIVE = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)
AlertList = list[Alert]


def _time(value: datetime) -> Any:
    """A time inside an SQL expression, stored like the column stores it (millis on SQLite)."""
    return literal(value, type_=UtcDateTime())


def not_snoozed(now: datetime) -> Any:
    """The alert is not snoozed at ``now`` (never was, or its snooze has ended)."""
    return or_(a.c.snoozed_until.is_(None), a.c.snoozed_until <= _time(now))


def _alerts_with_task() -> Select[Any]:
    return select(a, t.c.name.label("task_name")).select_from(a.outerjoin(t, t.c.id == a.c.task_id))


def row_to_alert(row: RowMapping) -> Alert:
    return Alert(
        id=int(row["id"]),
        kind=row["kind"],
        task_id=row["task_id"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        message=row["message"],
        count=int(row["count"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        details=row["details"],
        task_name=row["task_name"],
        notify_after=row["notify_after"],
        notified_at=row["notified_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        resolved_at=row["resolved_at"],
        snoozed_until=row["snoozed_until"],
    )


class AlertRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- raising and resolving ---------------------------------------------------------------------

    def raise_or_repeat(
        self,
        kind: str,
        *,
        task_id: int | None,
        severity: Severity,
        message: str,
        now: datetime,
        notify_after: datetime | None,
        details: dict[str, Any] | None = None,
        increment: int = 1,
    ) -> tuple[Alert, bool]:
        """Open the (task, kind) alert, or count one more occurrence of the open one.

        Returns the alert and whether this call created it. A repeat keeps the alert's state
        (an acknowledged alert stays acknowledged) and its first-message time.
        """
        key = open_key(kind, task_id)

        def work() -> tuple[Alert, bool]:
            with write_transaction(self._engine) as conn:
                created = False
                if not self._repeat(conn, key, message, details, now, increment):
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(a).values(
                                    kind=kind,
                                    task_id=task_id,
                                    open_key=key,
                                    severity=severity.value,
                                    state=AlertState.OPEN.value,
                                    message=message,
                                    details=details,
                                    count=increment,
                                    first_seen=now,
                                    last_seen=now,
                                    notify_after=notify_after,
                                )
                            )
                        created = True
                    except IntegrityError:  # another process opened it a moment ago
                        self._repeat(conn, key, message, details, now, increment)
                row = conn.execute(_alerts_with_task().where(a.c.open_key == key)).mappings().one()
                return row_to_alert(row), created

        return retry_on_deadlock(work)

    @staticmethod
    def _repeat(
        conn: Connection, key: str, message: str, details: dict[str, Any] | None, now: datetime, increment: int
    ) -> bool:
        values: dict[str, Any] = {"count": a.c.count + increment, "last_seen": now, "message": message}
        if details is not None:
            values["details"] = details
        return bool(conn.execute(update(a).where(a.c.open_key == key).values(**values)).rowcount)

    def escalate(self, alert_id: int, severity: Severity, notify_after: datetime | None) -> None:
        """Raise an open alert's severity (its task became more important); bring its first
        message forward if that is now owed sooner."""
        with self._engine.begin() as conn:
            values: dict[str, Any] = {"severity": severity.value}
            if notify_after is not None:
                values["notify_after"] = case(
                    (a.c.notified_at.is_not(None), a.c.notify_after),
                    (a.c.notify_after.is_(None), _time(notify_after)),
                    (a.c.notify_after > _time(notify_after), _time(notify_after)),
                    else_=a.c.notify_after,
                )
            conn.execute(update(a).where(a.c.id == alert_id, a.c.state.in_(ACTIVE)).values(**values))

    def open_keys(self, keys: Iterable[tuple[str, int | None]]) -> set[tuple[str, int | None]]:
        """Which of these (kind, task) pairs have an open alert: a cheap read that spares the
        success path a write when nothing is open (the common case)."""
        by_key = {open_key(kind, task_id): (kind, task_id) for kind, task_id in keys}
        if not by_key:
            return set()
        found: set[tuple[str, int | None]] = set()
        wanted = list(by_key)
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for (key,) in conn.execute(select(a.c.open_key).where(a.c.open_key.in_(chunk))):
                    found.add(by_key[key])
        return found

    def resolve(self, kind: str, *, task_id: int | None, now: datetime, message: str | None = None) -> Alert | None:
        """Resolve the open (task, kind) alert; None when there was none."""
        resolved = self._resolve_where(a.c.open_key == open_key(kind, task_id), now=now, message=message)
        return resolved[0] if resolved else None

    def resolve_many(self, keys: Iterable[tuple[str, int | None]], *, now: datetime) -> list[Alert]:
        wanted = [open_key(kind, task_id) for kind, task_id in keys]
        if not wanted:
            return []
        return self._resolve_where(a.c.open_key.in_(wanted), now=now, message=None)

    def resolve_by_id(self, alert_id: int, *, now: datetime) -> Alert:
        """Resolve an alert by hand. Resolving a resolved alert changes nothing."""
        self._resolve_where(and_(a.c.id == alert_id, a.c.open_key.is_not(None)), now=now, message=None)
        return self.get(alert_id)

    def _resolve_where(self, condition: Any, *, now: datetime, message: str | None) -> list[Alert]:
        def work() -> list[Alert]:
            with write_transaction(self._engine) as conn:
                ids = [int(x) for (x,) in conn.execute(select(a.c.id).where(condition, a.c.state.in_(ACTIVE)))]
                if not ids:
                    return []
                values: dict[str, Any] = {
                    "state": AlertState.RESOLVED.value,
                    "open_key": None,
                    "resolved_at": now,
                    # The "resolved" message is owed only to those who were told about the alert.
                    "notify_after": case((a.c.notified_at.is_(None), null()), else_=_time(now)),
                }
                if message:
                    values["message"] = message
                conn.execute(update(a).where(a.c.id.in_(ids), a.c.state.in_(ACTIVE)).values(**values))
                rows = conn.execute(_alerts_with_task().where(a.c.id.in_(ids)).order_by(a.c.id)).mappings()
                return [row_to_alert(row) for row in rows]

        return retry_on_deadlock(work)

    def acknowledge(self, alert_id: int, *, by: str, now: datetime) -> Alert:
        """Open -> acknowledged: a person is on it, so no reminders. Idempotent; a resolved alert
        cannot be acknowledged (``UserError``)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(a)
                .where(a.c.id == alert_id, a.c.state == AlertState.OPEN.value)
                .values(state=AlertState.ACKNOWLEDGED.value, acknowledged_at=now, acknowledged_by=by[:128])
            )
        alert = self.get(alert_id)
        if alert.state is AlertState.RESOLVED:
            raise UserError(f"alert {alert_id} is already resolved")
        return alert

    def snooze(self, alert_id: int, *, until: datetime) -> Alert:
        """No message about an active alert before ``until`` (a later snooze replaces an earlier
        one; an ``until`` in the past ends it). A resolved alert cannot be snoozed
        (``ConflictError``); ``NotFoundError`` for no such alert."""
        with self._engine.begin() as conn:
            conn.execute(update(a).where(a.c.id == alert_id, a.c.state.in_(ACTIVE)).values(snoozed_until=until))
        alert = self.get(alert_id)
        if alert.state is AlertState.RESOLVED:
            raise ConflictError(f"alert {alert_id} is already resolved")
        return alert

    # -- reading ------------------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        with self._engine.connect() as conn:
            row = conn.execute(_alerts_with_task().where(a.c.id == alert_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no alert with id {alert_id}")
        return row_to_alert(row)

    def find_open(self, kind: str, *, task_id: int | None) -> Alert | None:
        with self._engine.connect() as conn:
            query = _alerts_with_task().where(a.c.open_key == open_key(kind, task_id))
            row = conn.execute(query).mappings().first()
        return row_to_alert(row) if row else None

    def list(
        self,
        *,
        state: AlertState | None = None,
        active_only: bool = False,
        task_id: int | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Alert]:
        """Newest first. ``active_only``: open and acknowledged; ``state``: exactly that state."""
        query = _alerts_with_task().order_by(a.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(a.c.state == state.value)
        elif active_only:
            query = query.where(a.c.state.in_(ACTIVE))
        if task_id is not None:
            query = query.where(a.c.task_id == task_id)
        if before_id is not None:
            query = query.where(a.c.id < before_id)
        with self._engine.connect() as conn:
            return [row_to_alert(row) for row in conn.execute(query).mappings()]

    def open_of_kind(self, kind: str) -> AlertList:
        query = _alerts_with_task().where(a.c.kind == kind, a.c.state.in_(ACTIVE)).order_by(a.c.id)
        with self._engine.connect() as conn:
            return [row_to_alert(row) for row in conn.execute(query).mappings()]

    def count_open_by_severity(self) -> dict[Severity, int]:
        """Active (open or acknowledged) alerts per severity, every severity present."""
        counts = dict.fromkeys(Severity, 0)
        query = select(a.c.severity, func.count()).where(a.c.state.in_(ACTIVE)).group_by(a.c.severity)
        with self._engine.connect() as conn:
            for severity, n in conn.execute(query):
                counts[Severity(severity)] = int(n)
        return counts

    def due(self, now: datetime, *, limit: int = 1000, silences: Sequence[Silence] = ()) -> AlertList:
        """Alerts that owe a message at ``now``: open ones past ``notify_after`` (first message or
        reminder), not snoozed and not covered by one of ``silences`` (the active ones), and
        resolved ones whose "resolved" message is owed. Acknowledged ones owe none."""
        quiet = silenced_alert(silences)
        owes = and_(a.c.state == AlertState.OPEN.value, not_snoozed(now))
        if quiet is not None:
            owes = and_(owes, not_(quiet))
        query = (
            _alerts_with_task()
            .where(a.c.notify_after <= now, or_(a.c.state == AlertState.RESOLVED.value, owes))
            .order_by(a.c.notify_after, a.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [row_to_alert(row) for row in conn.execute(query).mappings()]

    def announced_since(self, since: datetime) -> int:
        """How many alerts got a first message or a reminder since ``since`` (storm control)."""
        query = select(func.count()).select_from(a).where(a.c.notified_at >= since)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_resolved_before(self, cutoff: datetime, *, chunk: int = 5000) -> int:
        """Retention: delete up to ``chunk`` alerts resolved before ``cutoff``; returns how many."""
        with self._engine.begin() as conn:
            ids = [
                int(x)
                for (x,) in conn.execute(
                    select(a.c.id)
                    .where(a.c.state == AlertState.RESOLVED.value, a.c.resolved_at < cutoff)
                    .order_by(a.c.id)
                    .limit(chunk)
                )
            ]
            if not ids:
                return 0
            return int(conn.execute(delete(a).where(a.c.id.in_(ids))).rowcount)
