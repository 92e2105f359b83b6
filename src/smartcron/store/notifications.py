"""Outgoing messages in ``smart_cron_notifications``: an outbox that dispatchers work off.

Concurrency contract:

* **Queueing takes an alert's debt atomically.** ``queue`` moves each owed alert's
  ``notify_after`` forward with a compare-and-swap and inserts the messages for the alerts it won
  in the same transaction: a crash leaves both or neither, and two dispatchers never both queue.
* **Claiming is a compare-and-swap** per row: ``pending`` and due, or ``sending`` whose claim
  expired (its dispatcher died mid-send). Only the caller whose update changed the row sends it.
  A message may therefore be sent twice only if a dispatcher dies after the server accepted it
  and before it recorded that: at least once, never silently dropped.
* Recording an outcome is guarded by ``claimed_by``, so a dispatcher whose claim expired and was
  taken over cannot overwrite the newer claimant's result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Engine, RowMapping

from smartcron.domain.alerts import Alert, Notification, NotificationKind, NotificationState
from smartcron.domain.enums import AlertState
from smartcron.store.alerts import not_snoozed
from smartcron.store.engine import retry_on_deadlock, write_transaction
from smartcron.store.schema import alerts as a
from smartcron.store.schema import notifications as n

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class NewNotification:
    kind: NotificationKind
    channel: str
    subject: str
    body: str
    recipients: tuple[str, ...] = ()
    alert_id: int | None = None


@dataclass(frozen=True, slots=True)
class OwedMessage:
    """An alert whose ``notify_after`` has come, and the message it owes."""

    alert: Alert
    kind: NotificationKind


def row_to_notification(row: RowMapping) -> Notification:
    return Notification(
        id=int(row["id"]),
        alert_id=row["alert_id"],
        kind=NotificationKind(row["kind"]),
        channel=row["channel"],
        recipients=tuple(row["recipients"] or ()),
        subject=row["subject"],
        body=row["body"],
        state=NotificationState(row["state"]),
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        claimed_until=row["claimed_until"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
    )


def _row(item: NewNotification, now: datetime) -> dict[str, Any]:
    return {
        "alert_id": item.alert_id,
        "kind": item.kind.value,
        "channel": item.channel[:255],
        "recipients": list(item.recipients) or None,
        "subject": item.subject[:255],
        "body": item.body,
        "state": NotificationState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


class NotificationRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def queue(
        self,
        owed: Sequence[OwedMessage],
        compose: Callable[[Sequence[OwedMessage]], Sequence[NewNotification]],
        *,
        now: datetime,
        renotify_interval: float,
    ) -> list[OwedMessage]:
        """Take the debts this caller wins and queue ``compose(won)`` in one transaction.

        An announced open alert's next message (a reminder) becomes due ``renotify_interval``
        after now; a resolved alert owes nothing more. Returns the debts won.
        """
        reminder_at = now + timedelta(seconds=renotify_interval)

        def work() -> list[OwedMessage]:
            won: list[OwedMessage] = []
            with write_transaction(self._engine) as conn:
                # Ascending ids: two dispatchers lock rows in the same order and cannot deadlock.
                for item in sorted(owed, key=lambda x: x.alert.id):
                    taken = update(a).where(a.c.id == item.alert.id, a.c.notify_after <= now)
                    if item.kind is NotificationKind.RESOLVED:
                        taken = taken.where(a.c.state == AlertState.RESOLVED.value).values(notify_after=None)
                    else:
                        # A snooze that began since the caller read the debt still holds.
                        taken = taken.where(a.c.state == AlertState.OPEN.value, not_snoozed(now)).values(
                            notified_at=now, notify_after=reminder_at
                        )
                    if conn.execute(taken).rowcount == 1:
                        won.append(item)
                rows = [_row(x, now) for x in compose(won)] if won else []
                if rows:
                    conn.execute(insert(n), rows)
            return won

        return retry_on_deadlock(work)

    def add(self, items: Sequence[NewNotification], *, now: datetime) -> list[int]:
        """Queue messages that belong to no alert debt (tests, reports). Returns their ids."""
        ids: list[int] = []
        with self._engine.begin() as conn:
            for item in items:
                pk = conn.execute(insert(n).values(**_row(item, now))).inserted_primary_key
                assert pk is not None
                ids.append(int(pk[0]))
        return ids

    # -- claiming and recording ----------------------------------------------------------------

    def _claimable(self, now: datetime) -> Any:
        return or_(
            (n.c.state == NotificationState.PENDING.value) & (n.c.next_attempt_at <= now),
            (n.c.state == NotificationState.SENDING.value) & (n.c.claimed_until < now),
        )

    def claim(
        self, *, now: datetime, node: str, until: datetime, limit: int = 200, channels: Sequence[str] | None = None
    ) -> list[Notification]:
        """Claim up to ``limit`` due messages for ``node`` until ``until``; returns those won.

        ``channels``: only messages for these channels (a node claims only what it can send, so
        nodes configured differently never fail each other's messages).
        """
        query = select(n.c.id).where(self._claimable(now)).order_by(n.c.id).limit(limit)
        if channels is not None:
            query = query.where(n.c.channel.in_(list(channels)))
        with self._engine.connect() as conn:
            candidates = [int(x) for (x,) in conn.execute(query)]
        if not candidates:
            return []
        won = [x for x in candidates if self.claim_one(x, now=now, node=node, until=until)]
        if not won:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(select(n).where(n.c.id.in_(won)).order_by(n.c.id)).mappings()
            return [row_to_notification(row) for row in rows]

    def claim_one(self, notification_id: int, *, now: datetime, node: str, until: datetime) -> bool:
        """The compare-and-swap: True only for the one caller whose update changed the row."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(n)
                .where(n.c.id == notification_id, self._claimable(now))
                .values(
                    state=NotificationState.SENDING.value,
                    claimed_by=node[:64],
                    claimed_until=until,
                    attempts=n.c.attempts + 1,
                )
            )
            return result.rowcount == 1

    def mark_sent(self, notification_id: int, *, node: str, now: datetime, note: str | None = None) -> bool:
        """Record acceptance by the channel; ``note`` keeps a partial problem (a refused address)."""
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    update(n)
                    .where(
                        n.c.id == notification_id,
                        n.c.state == NotificationState.SENDING.value,
                        n.c.claimed_by == node[:64],
                    )
                    .values(
                        state=NotificationState.SENT.value,
                        sent_at=now,
                        claimed_until=None,
                        last_error=note[:MAX_ERROR_CHARS] if note else None,
                    )
                ).rowcount
                == 1
            )

    def mark_failed(self, notification_id: int, *, node: str, error: str, retry_at: datetime | None) -> bool:
        """Record a failed attempt: pending again from ``retry_at``, or failed for good (None)."""
        values: dict[str, Any] = {"last_error": error[:MAX_ERROR_CHARS], "claimed_until": None}
        if retry_at is None:
            values["state"] = NotificationState.FAILED.value
        else:
            values["state"] = NotificationState.PENDING.value
            values["next_attempt_at"] = retry_at
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    update(n)
                    .where(
                        n.c.id == notification_id,
                        n.c.state == NotificationState.SENDING.value,
                        n.c.claimed_by == node[:64],
                    )
                    .values(**values)
                ).rowcount
                == 1
            )

    # -- reading --------------------------------------------------------------------------------

    def get(self, notification_id: int) -> Notification | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(n).where(n.c.id == notification_id)).mappings().first()
        return row_to_notification(row) if row else None

    def list(
        self,
        *,
        alert_id: int | None = None,
        state: NotificationState | None = None,
        kind: NotificationKind | None = None,
        limit: int = 100,
    ) -> list[Notification]:
        """Newest first."""
        query = select(n).order_by(n.c.id.desc()).limit(limit)
        if alert_id is not None:
            query = query.where(n.c.alert_id == alert_id)
        if state is not None:
            query = query.where(n.c.state == state.value)
        if kind is not None:
            query = query.where(n.c.kind == kind.value)
        with self._engine.connect() as conn:
            return [row_to_notification(row) for row in conn.execute(query).mappings()]

    def latest_for_alerts(self, alert_ids: Sequence[int]) -> dict[int, Notification]:
        """The newest first message or reminder about each of ``alert_ids`` (in whatever state),
        by alert id: what the alert center says about mailing it."""
        if not alert_ids:
            return {}
        wanted = (NotificationKind.ALERT.value, NotificationKind.REMINDER.value)
        query = select(n).where(n.c.alert_id.in_(sorted(set(alert_ids))), n.c.kind.in_(wanted)).order_by(n.c.id.desc())
        found: dict[int, Notification] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(query).mappings():
                found.setdefault(int(row["alert_id"]), row_to_notification(row))
        return found

    def last_digest_at(self) -> datetime | None:
        query = select(func.max(n.c.created_at)).where(n.c.kind == NotificationKind.DIGEST.value)
        with self._engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    def counts_by_state(self) -> dict[NotificationState, int]:
        counts = dict.fromkeys(NotificationState, 0)
        with self._engine.connect() as conn:
            for state, count in conn.execute(select(n.c.state, func.count()).group_by(n.c.state)):
                counts[NotificationState(state)] = int(count)
        return counts

    def delete_finished_before(self, cutoff: datetime, *, chunk: int = 5000) -> int:
        """Retention: sent or failed messages created before ``cutoff``, up to ``chunk``."""
        with self._engine.begin() as conn:
            ids = [
                int(x)
                for (x,) in conn.execute(
                    select(n.c.id)
                    .where(
                        n.c.created_at < cutoff,
                        n.c.state.in_([NotificationState.SENT.value, NotificationState.FAILED.value]),
                    )
                    .order_by(n.c.id)
                    .limit(chunk)
                )
            ]
            if not ids:
                return 0
            return int(conn.execute(delete(n).where(n.c.id.in_(ids))).rowcount)
