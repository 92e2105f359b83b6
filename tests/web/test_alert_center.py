"""The alert center can be worked from: each alert shows its run's error line, a link to the run,
and what became of its mail; the navigation counts the active alerts; the history follows the
event stream."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from smartcron.clock import SystemClock
from smartcron.domain.alerts import NotificationKind
from smartcron.domain.enums import Severity
from smartcron.services.silence_actions import silence_alerts
from smartcron.store import Store
from smartcron.store.notifications import NewNotification
from tests.web.conftest import NOW, add_task


def _failed_run_alert(store: Store, task_id: int, *, severity: Severity, output: str, execution_id: int) -> int:
    details = {"execution_id": execution_id, "status": "failed", "exit_code": 1, "output_tail": output}
    alert, _ = store.alerts.raise_or_repeat(
        "failed",
        task_id=task_id,
        severity=severity,
        message="bank_import failed (exit code 1)",
        now=NOW,
        notify_after=NOW + timedelta(minutes=15) if severity is Severity.HIGH else None,
        details=details,
    )
    return alert.id


def _mailed(store: Store, alert_id: int, to: str) -> None:
    """The dispatcher's store path: queue the first message, claim it, record the server's acceptance."""
    message = NewNotification(NotificationKind.ALERT, "email", "subject", "body", recipients=(to,), alert_id=alert_id)
    [notification_id] = store.notifications.add([message], now=NOW)
    assert store.notifications.claim_one(notification_id, now=NOW, node="a", until=NOW + timedelta(minutes=1))
    assert store.notifications.mark_sent(notification_id, node="a", now=NOW + timedelta(seconds=2))


def _row_of(html: str, alert_id: int) -> str:
    found = re.search(rf'<tr[^>]*data-alert="{alert_id}".*?</tr>', html, re.S)
    assert found, f"no row for alert {alert_id}"
    return found.group(0)


def test_each_active_alert_shows_its_error_line_its_run_and_its_mail(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    bank = add_task(web_store, "bank_import")
    payroll = add_task(web_store, "payroll")
    report = add_task(web_store, "report")
    critical = _failed_run_alert(
        web_store,
        bank,
        severity=Severity.CRITICAL,
        output="connecting\n<b>ERROR</b>: bank refused\n\n",
        execution_id=41,
    )
    _mailed(web_store, critical, "ops@example.com")
    high = _failed_run_alert(web_store, payroll, severity=Severity.HIGH, output="", execution_id=42)
    low = _failed_run_alert(web_store, report, severity=Severity.LOW, output="disk nearly full", execution_id=43)

    html = client.get("/alerts").text
    row = _row_of(html, critical)
    assert "&lt;b&gt;ERROR&lt;/b&gt;: bank refused" in row, "the last non-empty output line, as text"
    assert '<a href="/executions/41" data-run-link>run #41</a>' in row
    assert re.search(r"mailed \S+ [^<]*to ops@example\.com", row), row
    assert "mails at" in _row_of(html, high) and "unless it recovers first" in _row_of(html, high)
    assert "data-error-line" not in _row_of(html, high), "no output: no error line"
    assert "low alerts are only stored" in _row_of(html, low)
    count = re.search(r'<span id="nav-alert-count"[^>]*aria-label="3 active alerts"[^>]*>3</span>', html)
    assert count, "the navigation counts the three active alerts"


def test_the_navigation_count_follows_resolving(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task = add_task(web_store, "bank_import")
    alert = _failed_run_alert(web_store, task, severity=Severity.CRITICAL, output="x", execution_id=1)
    assert ">1</span>" in client.get("/partials/alert-count", headers={"HX-Request": "true"}).text
    assert alert and web_store.alerts.resolve("failed", task_id=task, now=SystemClock().now()) is not None
    answer = client.get("/partials/alert-count", headers={"HX-Request": "true"}).text
    assert 'aria-label="0 active alerts"' in answer and "nav-count-none" in answer


def test_the_history_listens_to_the_stream_only_on_its_first_page(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    task = add_task(web_store, "bank_import")
    alert = _failed_run_alert(web_store, task, severity=Severity.LOW, output="x", execution_id=7)
    first = client.get("/alerts").text
    assert 'id="alert-history" hx-get="/partials/alert-history" hx-trigger="sse:alert"' in first
    older = client.get(f"/alerts?before={alert + 1}").text
    assert 'id="alert-history">' in older and "sse:alert" not in older.split('id="alert-history"', 1)[1][:80]
    fragment = client.get("/partials/alert-history", headers={"HX-Request": "true"}).text
    assert '<a href="/executions/7" data-run-link>' in fragment


def test_a_silenced_alert_says_so_and_an_operator_can_silence_its_task_from_the_row(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    bank = add_task(web_store, "bank_import")
    payroll = add_task(web_store, "payroll")
    quiet = _failed_run_alert(web_store, bank, severity=Severity.CRITICAL, output="x", execution_id=1)
    loud = _failed_run_alert(web_store, payroll, severity=Severity.CRITICAL, output="y", execution_id=2)
    silence_alerts(web_store, by="cli:root", task="bank_import", duration="2h")
    html = client.get("/alerts").text
    assert "silenced until" in _row_of(html, quiet) and "not mailed meanwhile" in _row_of(html, quiet)
    assert "silenced until" not in _row_of(html, loud)
    form = re.search(r'<form method="post" action="/silences".*?</form>', _row_of(html, loud), re.S)
    assert form and 'name="task" value="payroll"' in form.group(0)
    answer = client.post("/silences", data={"csrf_token": csrf, "task": "payroll", "duration": "8h"})
    assert answer.status_code == 200 and "Silenced task payroll" in answer.text
    assert "silenced until" in _row_of(client.get("/alerts").text, loud)


def test_a_viewer_sees_no_silence_form(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task = add_task(web_store, "bank_import")
    alert = _failed_run_alert(web_store, task, severity=Severity.CRITICAL, output="x", execution_id=1)
    assert 'action="/silences"' not in _row_of(client.get("/alerts").text, alert)
