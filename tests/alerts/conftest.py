"""A real SMTP server (aiosmtpd on loopback) and helpers that record real runs in the store."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smartcron.alerts.dispatcher import Dispatcher
from smartcron.alerts.service import AlertService
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task, TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim, Start


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # as read, not as sent on the wire


@dataclass
class MailHandler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)
    """Set when a message was accepted: tests that drive another process wait on it."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        self.arrived.set()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a fixed port, so it can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = MailHandler()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def mail_settings(home: Path, smtp: SmtpServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_timeout": 5,
        "alert_email_to": "ops@example.com",
        "alert_email_from": "smartcron@example.com",
        "web_base_url": "https://cron.example.com",
        "node": "test-node",
    }
    return load_settings(overrides=values | overrides)


def add_task(store: Store, name: str, *, priority: int, now: datetime, **spec: Any) -> Task:
    defaults: dict[str, Any] = {"category": "payroll", "retries": 0, "timezone": "Pacific/Auckland"}
    task_spec = TaskSpec(
        name=name, command=("sh", "-c", "exit 1"), schedule="0 9 * * *", priority=priority, **(defaults | spec)
    )
    return store.tasks.add(task_spec, now=now, next_run_at=now + timedelta(hours=1))


_slot = 0


def record_run(
    store: Store,
    task: Task,
    status: ExecutionStatus,
    *,
    now: datetime,
    exit_code: int | None = 1,
    attempt: int = 0,
    output: str | None = "connecting to bank...\nERROR: login refused\n",
    duration_ms: int = 1234,
    reason: str | None = None,
) -> Execution:
    """Claim, begin, attach and finish one run in the store, as the runner does."""
    global _slot
    _slot += 1
    token = f"tok{_slot}"
    slot = now - timedelta(seconds=5, microseconds=_slot * 1000)
    [claimed] = store.executions.claim(
        [SlotClaim(task.id, slot, Trigger.SCHEDULE, attempt=attempt)], node="test-node", token=token, now=now
    )
    store.executions.begin([claimed.id], node="test-node", token=token, now=now, lease_until=now + timedelta(minutes=1))
    store.executions.attach([Start(claimed.id, task.id, now, 4242, 4242, None)], token=token)
    outcome = Outcome(
        status=status,
        finished_at=now,
        exit_code=exit_code if status is not ExecutionStatus.SUCCESS else 0,
        reason=reason,
        error_category=ErrorCategory.RECOVERABLE if status.is_failure else None,
        duration_ms=duration_ms,
        output=output,
    )
    store.executions.finish([Finish(claimed.id, task.id, outcome)], token=token)
    return store.executions.get(claimed.id)


@dataclass
class World:
    store: Store
    settings: Settings
    service: AlertService
    dispatcher: Dispatcher
    smtp: SmtpServer


@pytest.fixture
def world(home: Path, smtp: SmtpServer, sqlite_store: Store) -> World:
    settings = mail_settings(home, smtp)
    return World(
        sqlite_store,
        settings,
        AlertService(sqlite_store, settings),
        Dispatcher(sqlite_store, settings, node="test-node"),
        smtp,
    )
