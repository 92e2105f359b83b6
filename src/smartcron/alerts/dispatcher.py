"""The dispatcher: the only part of smartcron that talks to mail servers and webhooks.

Each pass (``send_pending``) does two things, both safe to run in several processes at once:

1. **Queue**: alerts whose ``notify_after`` has come owe a message (first mail, reminder,
   "resolved"). The pass takes those debts by compare-and-swap and writes one notification row per
   channel (and recipient group), or, in a storm, one digest per channel.
2. **Send**: claim due notification rows by compare-and-swap, deliver them, record sent or failed
   with the attempt count and error; a channel that is down is retried with exponential backoff,
   a permanent refusal is not.

The daemon runs ``run_forever`` in a background thread; ``tick`` and ``health`` call
``send_pending`` once before they exit.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from smartcron.alerts.channels import Channel, OutgoingMessage, build_channels
from smartcron.alerts.messages import MessageContext, body_for, digest_body, digest_subject, subject_for
from smartcron.clock import Clock
from smartcron.domain.alerts import (
    STORM_WINDOW,
    Alert,
    DeliveryMode,
    Notification,
    NotificationKind,
    delivery_mode,
    next_attempt_at,
    owed_kind,
)
from smartcron.domain.task import Task
from smartcron.store.notifications import NewNotification, OwedMessage

if TYPE_CHECKING:
    from smartcron.config import Settings
    from smartcron.store import Store

log = logging.getLogger("smartcron.alerts.dispatcher")

BATCH = 200
MAX_BATCHES_PER_PASS = 10
MAX_DUE_PER_PASS = 1000
CLAIM_SECONDS = 300.0
"""How long a claimed message is ours; a dispatcher that dies mid-send is replaced after this."""


def recipients_for(settings: Settings, task: Task | None) -> tuple[str, ...]:
    """Everyone configured for every alert, then the task's own ``notify_emails``; no duplicates."""
    seen: dict[str, None] = {}
    for address in (*settings.alert_email_to, *(task.spec.notify_emails if task else ())):
        seen.setdefault(address.strip(), None)
    return tuple(address for address in seen if address)


class Dispatcher:
    def __init__(
        self, store: Store, settings: Settings, *, node: str, channels: Sequence[Channel] | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._node = node
        if channels is None:
            built, problems = build_channels(settings)
            for problem in problems:
                log.error("alert channel %s cannot be used: %s", problem.label, problem.problem)
            channels = built
        self._channels: dict[str, Channel] = {channel.id: channel for channel in channels}
        self._context = MessageContext(settings.web_base_url, node, settings.timezone)

    @property
    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    # -- one pass -----------------------------------------------------------------------------------

    def send_pending(self, now: datetime) -> int:
        """Queue the messages alerts owe, then send every due message. Returns how many were sent."""
        if not self._channels:
            return 0  # nothing to tell anyone through; alerts stay on the dashboard
        self.queue_due(now)
        sent = 0
        for _ in range(MAX_BATCHES_PER_PASS):
            claimed = self._store.notifications.claim(
                now=now,
                node=self._node,
                until=now + timedelta(seconds=CLAIM_SECONDS),
                limit=BATCH,
                channels=list(self._channels),
            )
            sent += self._deliver(claimed, now)
            if len(claimed) < BATCH:
                break
        return sent

    def queue_due(self, now: datetime) -> int:
        """Turn owed alert messages into notification rows; returns how many alerts were taken.
        An alert an active silence covers owes nothing yet and is left as it is: its message goes
        out as soon as the silence ends or is removed, if the alert is still open then."""
        owed = [
            OwedMessage(alert, kind)
            for alert in self._store.alerts.due(now, limit=MAX_DUE_PER_PASS, silences=self._store.silences.active(now))
            if (kind := owed_kind(alert)) is not None
        ]
        if not owed:
            return 0
        threshold = self._settings.alert_digest_threshold
        announced = self._store.alerts.announced_since(now - STORM_WINDOW)
        storm = len(owed) + announced > threshold
        mode = delivery_mode(
            due=len(owed),
            announced_recently=announced,
            last_digest_at=self._store.notifications.last_digest_at() if storm else None,
            now=now,
            threshold=threshold,
        )
        if mode is DeliveryMode.HOLD:
            return 0
        task_ids = {item.alert.task_id for item in owed if item.alert.task_id is not None}
        tasks = self._store.tasks.by_ids(task_ids)

        def compose(won: Sequence[OwedMessage]) -> list[NewNotification]:
            if mode is DeliveryMode.DIGEST:
                return self._compose_digests(won, tasks)
            return [row for item in won for row in self._compose_single(item, tasks.get(item.alert.task_id or -1))]

        won = self._store.notifications.queue(
            owed, compose, now=now, renotify_interval=self._settings.alert_renotify_interval
        )
        if won:
            log.info("queued messages for %d alert(s) (%s)", len(won), mode.value, extra={"action": "queue"})
        return len(won)

    def _compose_single(self, item: OwedMessage, task: Task | None) -> list[NewNotification]:
        subject = subject_for(item.alert, item.kind)
        body = body_for(item.alert, item.kind, task, self._context)
        rows: list[NewNotification] = []
        for channel in self._channels.values():
            recipients = recipients_for(self._settings, task) if channel.addressed else ()
            if channel.addressed and not recipients:
                continue  # email is configured but nobody is to get this one
            rows.append(NewNotification(item.kind, channel.id, subject, body, recipients, item.alert.id))
        return rows

    def _compose_digests(self, won: Sequence[OwedMessage], tasks: dict[int, Task]) -> list[NewNotification]:
        """One digest per channel; for email, one per group of recipients who get the same alerts
        (everyone on ``alert.email_to`` gets one; a task's extra recipients get theirs)."""
        rows: list[NewNotification] = []
        for channel in self._channels.values():
            if not channel.addressed:
                rows.append(self._digest_row(channel.id, won, ()))
                continue
            per_recipient: dict[str, list[OwedMessage]] = defaultdict(list)
            for item in won:
                for address in recipients_for(self._settings, tasks.get(item.alert.task_id or -1)):
                    per_recipient[address].append(item)
            groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
            for address, items in per_recipient.items():
                groups[tuple(x.alert.id for x in items)].append(address)
            for alert_ids, addresses in groups.items():
                chosen = [x for x in won if x.alert.id in set(alert_ids)]
                rows.append(self._digest_row(channel.id, chosen, tuple(addresses)))
        return rows

    def _digest_row(
        self, channel_id: str, items: Sequence[OwedMessage], recipients: tuple[str, ...]
    ) -> NewNotification:
        pairs: list[tuple[Alert, NotificationKind]] = [(x.alert, x.kind) for x in items]
        return NewNotification(
            NotificationKind.DIGEST, channel_id, digest_subject(pairs), digest_body(pairs, self._context), recipients
        )

    def _deliver(self, claimed: Sequence[Notification], now: datetime) -> int:
        by_channel: dict[str, list[Notification]] = defaultdict(list)
        for row in claimed:
            by_channel[row.channel].append(row)
        sent = 0
        for channel_id, rows in by_channel.items():
            channel = self._channels[channel_id]  # claimed only for our own channels
            messages = [
                OutgoingMessage(row.subject, row.body, row.recipients, reference=f"notification-{row.id}")
                for row in rows
            ]
            for row, result in zip(rows, channel.deliver(messages), strict=True):
                if result.error is None:
                    sent += self._store.notifications.mark_sent(row.id, node=self._node, now=now, note=result.note)
                    continue
                retry_at = (
                    None
                    if result.error.permanent
                    else next_attempt_at(attempts=row.attempts, created_at=row.created_at, now=now)
                )
                self._store.notifications.mark_failed(
                    row.id, node=self._node, error=result.error.message, retry_at=retry_at
                )
                fields = {"action": "notify", "node": self._node}
                if retry_at is None:
                    log.error(
                        "giving up on message %s (%s): %s", row.id, row.subject, result.error.message, extra=fields
                    )
                else:
                    log.warning(
                        "message %s not sent, retry at %s: %s", row.id, retry_at, result.error.message, extra=fields
                    )
        return sent

    # -- the background loop --------------------------------------------------------------------------

    def run_forever(self, clock: Clock, stop: threading.Event, interval: float = 1.0) -> None:
        """Pass after pass until ``stop`` is set. Errors are logged (once while they repeat) and
        never end the loop: the database or a channel may come back."""
        last_problem = ""
        while not stop.is_set():
            try:
                self.send_pending(clock.now())
                last_problem = ""
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if problem != last_problem:
                    log.error("alert dispatch failed: %s", problem, extra={"action": "notify"})
                last_problem = problem
            clock.sleep(interval, stop)
