"""Apprise URLs as channels: a real JSON webhook on loopback receives the alert; secrets stay out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from smartcron.alerts.channels import build_channels
from smartcron.alerts.dispatcher import Dispatcher
from smartcron.alerts.service import AlertService
from smartcron.config import load_settings
from smartcron.domain.alerts import NotificationState
from smartcron.domain.enums import ExecutionStatus
from smartcron.store import Store
from tests.alerts.conftest import add_task, free_port, record_run
from tests.conftest import utc

NOW = utc(2026, 11, 26, 20, 0)


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/smartcron-secret-token"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_a_critical_alert_is_posted_to_an_apprise_webhook_and_the_url_is_not_stored(
    home: Path, sqlite_store: Store, webhook: Webhook
) -> None:
    settings = load_settings(overrides={"alert_urls": webhook.url})
    task = add_task(sqlite_store, "payroll_auto_start", priority=1, now=NOW)
    AlertService(sqlite_store, settings).on_execution_finished(
        task, record_run(sqlite_store, task, ExecutionStatus.FAILED, now=NOW), NOW
    )

    assert Dispatcher(sqlite_store, settings, node="n").send_pending(NOW) == 1

    [post] = webhook.posts
    assert post["title"] == "[smartcron CRITICAL] payroll/payroll_auto_start failed (exit 1)"
    assert "ERROR: login refused" in post["message"]
    [row] = sqlite_store.notifications.list()
    assert row.state is NotificationState.SENT
    assert row.channel.startswith("apprise:") and "secret" not in row.channel


def test_a_webhook_that_is_down_is_retried_later(home: Path, sqlite_store: Store) -> None:
    settings = load_settings(overrides={"alert_urls": f"json://127.0.0.1:{free_port()}/down"})
    task = add_task(sqlite_store, "payroll_auto_start", priority=1, now=NOW)
    AlertService(sqlite_store, settings).on_execution_finished(
        task, record_run(sqlite_store, task, ExecutionStatus.FAILED, now=NOW), NOW
    )
    assert Dispatcher(sqlite_store, settings, node="n").send_pending(NOW) == 0
    [row] = sqlite_store.notifications.list()
    assert row.state is NotificationState.PENDING and row.attempts == 1 and row.next_attempt_at > NOW


def test_an_url_apprise_does_not_understand_is_reported_not_fatal(home: Path) -> None:
    settings = load_settings(overrides={"alert_urls": "nosuchscheme://x, json://127.0.0.1:9/ok"})
    channels, problems = build_channels(settings)
    assert [c.label for c in channels] == ["json://127.0.0.1:9/ok"]
    assert [(p.label, p.problem) for p in problems] == [
        ("alert URL #1", "apprise does not understand the URL (scheme 'nosuchscheme')")
    ]
