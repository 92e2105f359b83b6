"""Resolving and snoozing an alert: the CLI, the API and the alert center do the same thing and
audit it the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.cli.main import cli, main
from smartcron.cli.tasks import cli_actor
from smartcron.domain.alerts import Alert
from smartcron.domain.enums import AlertState, Role, Severity
from smartcron.store import Store
from smartcron.store.audit import AuditEntry
from smartcron.web.accounts import Accounts
from tests.web.conftest import NOW, add_task

Door = Callable[[Store, TestClient, str, int], str]
"""Does the action on an alert through one door; returns the actor the audit log should name."""


def _open_alert(store: Store, name: str) -> Alert:
    task_id = store.tasks.get(name).id if store.tasks.find(name) else add_task(store, name)
    alert, _ = store.alerts.raise_or_repeat(
        "task_failed", task_id=task_id, severity=Severity.HIGH, message=f"{name} failed", now=NOW, notify_after=NOW
    )
    return alert


def _token(store: Store, role: Role, name: str | None = None) -> dict[str, str]:
    secret, _ = Accounts(store, actor="test").create_token(name or f"{role.value}-script", role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _last_entry(store: Store) -> AuditEntry:
    return store.audit.list(limit=1)[0]


def _close_to(moment: datetime | None, expected: datetime) -> bool:
    return moment is not None and abs((moment - expected).total_seconds()) < 60


def _resolve_by_cli(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    assert _cli("alerts", "resolve", str(alert_id)) == f"alert {alert_id} resolved\n"
    return cli_actor()


def _resolve_by_api(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    answer = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=_token(store, Role.OPERATOR, f"op{alert_id}"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["state"]) == (alert_id, "resolved")
    return f"web:token:op{alert_id}"


def _resolve_in_the_alert_center(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    page = client.get("/alerts").text
    assert f'action="/alerts/{alert_id}/resolve"' in page
    answer = client.post(f"/alerts/{alert_id}/resolve", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/alerts")
    assert f"Resolved alert {alert_id}." in client.get("/alerts").text
    return "web:operator"


@pytest.mark.parametrize("door", [_resolve_by_cli, _resolve_by_api, _resolve_in_the_alert_center])
def test_an_alert_resolved_through_any_door_is_resolved_and_audited_the_same_way(
    app: FastAPI, web_store: Store, operator: tuple[TestClient, str], door: Door
) -> None:
    client, csrf = operator
    alert = _open_alert(web_store, "payroll")
    actor = door(web_store, client, csrf, alert.id)
    stored = web_store.alerts.get(alert.id)
    assert stored.state is AlertState.RESOLVED and stored.resolved_at is not None
    entry = _last_entry(web_store)
    assert (entry.actor, entry.action, entry.target, entry.details) == (
        actor,
        "alert.resolve",
        f"alert {alert.id}",
        {"kind": "task_failed"},
    )


def _snooze_by_cli(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    assert _cli("alerts", "snooze", str(alert_id), "--for", "1d").startswith(f"alert {alert_id} snoozed until ")
    return cli_actor()


def _snooze_by_api(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    headers = _token(store, Role.OPERATOR, f"op{alert_id}")
    answer = client.post(f"/api/v1/alerts/{alert_id}/snooze", json={"duration": "1d"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "open" and answer.json()["snoozed_until"] is not None
    return f"web:token:op{alert_id}"


def _snooze_in_the_alert_center(store: Store, client: TestClient, csrf: str, alert_id: int) -> str:
    assert f'action="/alerts/{alert_id}/snooze"' in client.get("/alerts").text
    form = {"csrf_token": csrf, "duration": "1d"}
    answer = client.post(f"/alerts/{alert_id}/snooze", data=form, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/alerts").text
    assert f"Snoozed alert {alert_id}: no message about it until" in page
    assert "snoozed until" in page
    return "web:operator"


@pytest.mark.parametrize("door", [_snooze_by_cli, _snooze_by_api, _snooze_in_the_alert_center])
def test_an_alert_snoozed_through_any_door_owes_no_message_until_then_and_is_audited_the_same_way(
    app: FastAPI, web_store: Store, operator: tuple[TestClient, str], door: Door
) -> None:
    client, csrf = operator
    alert = _open_alert(web_store, "payroll")
    actor = door(web_store, client, csrf, alert.id)
    stored = web_store.alerts.get(alert.id)
    day_from_now = web_store.database_now() + timedelta(days=1)
    assert stored.state is AlertState.OPEN and _close_to(stored.snoozed_until, day_from_now)
    assert stored.snoozed_until is not None
    assert web_store.alerts.due(stored.snoozed_until - timedelta(seconds=1)) == []
    assert [a.id for a in web_store.alerts.due(stored.snoozed_until)] == [alert.id]
    entry = _last_entry(web_store)
    assert (entry.actor, entry.action, entry.target) == (actor, "alert.snooze", f"alert {alert.id}")
    assert entry.details == {"kind": "task_failed", "until": stored.snoozed_until.isoformat()}


def test_the_api_snoozes_until_a_time_given_with_an_offset(app: FastAPI, web_store: Store) -> None:
    alert = _open_alert(web_store, "payroll")
    until = (web_store.database_now() + timedelta(hours=3)).replace(microsecond=0)
    body = {"until": until.astimezone().isoformat()}
    with TestClient(app) as client:
        answer = client.post(f"/api/v1/alerts/{alert.id}/snooze", json=body, headers=_token(web_store, Role.OPERATOR))
    assert answer.status_code == 200, answer.text
    assert web_store.alerts.get(alert.id).snoozed_until == until


def test_viewers_may_not_resolve_or_snooze_and_the_pages_need_the_csrf_token(
    app: FastAPI, web_store: Store, viewer: tuple[TestClient, str], operator: tuple[TestClient, str]
) -> None:
    alert = _open_alert(web_store, "payroll")
    viewer_client, viewer_csrf = viewer
    assert f"/alerts/{alert.id}/resolve" not in viewer_client.get("/alerts").text
    for action, form in (("resolve", {}), ("snooze", {"duration": "1h"})):
        assert (
            viewer_client.post(f"/alerts/{alert.id}/{action}", data={"csrf_token": viewer_csrf} | form).status_code
            == 403
        )
        forged = operator[0].post(f"/alerts/{alert.id}/{action}", data={"csrf_token": "forged"} | form)
        assert forged.status_code == 403
        with TestClient(app) as client:
            answer = client.post(
                f"/api/v1/alerts/{alert.id}/{action}", json=form or None, headers=_token(web_store, Role.VIEWER, action)
            )
            assert answer.status_code == 403
    stored = web_store.alerts.get(alert.id)
    assert stored.state is AlertState.OPEN and stored.snoozed_until is None
    assert not [e for e in web_store.audit.list() if e.action in ("alert.resolve", "alert.snooze")]


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"duration": "soon"}, 422, "duration: 'soon' is not a duration"),
        ({"duration": "30s"}, 422, "duration: a snooze lasts from 1 min to 30 d"),
        ({"duration": "31d"}, 422, "duration: a snooze lasts from 1 min to 30 d"),
        ({"duration": 1e300}, 422, "duration: a snooze lasts"),
        ({"duration": "99999999999999999999d"}, 422, "duration: a snooze lasts"),
        ({"until": "2020-01-01T00:00:00Z"}, 422, "until: a snooze lasts from 1 min to 30 d from now"),
        ({"until": "2030-01-01T00:00:00"}, 422, "until: give a time zone"),
        ({"until": "tomorrow"}, 422, "until"),
        ({}, 422, "give a duration or an end time (until)"),
        ({"duration": "1h", "until": "2030-01-01T00:00:00Z"}, 422, "one of the two"),
        ({"duration": "1h", "colour": "red"}, 422, "colour"),
        ({"duration": ["1h"]}, 422, "duration"),
    ],
)
def test_a_bad_snooze_is_refused_with_the_field_named_and_changes_nothing(
    app: FastAPI, web_store: Store, body: dict[str, Any], status: int, named: str
) -> None:
    alert = _open_alert(web_store, "payroll")
    with TestClient(app) as client:
        answer = client.post(f"/api/v1/alerts/{alert.id}/snooze", json=body, headers=_token(web_store, Role.OPERATOR))
    assert answer.status_code == status, answer.text
    assert named in answer.json()["detail"]
    assert web_store.alerts.get(alert.id).snoozed_until is None


def test_a_resolved_alert_is_409_to_snooze_an_unknown_one_404_and_resolving_twice_changes_nothing(
    app: FastAPI, web_store: Store
) -> None:
    alert = _open_alert(web_store, "payroll")
    headers = _token(web_store, Role.OPERATOR)
    with TestClient(app) as client:
        first = client.post(f"/api/v1/alerts/{alert.id}/resolve", headers=headers).json()
        again = client.post(f"/api/v1/alerts/{alert.id}/resolve", headers=headers)
        assert (again.status_code, again.json()["resolved_at"]) == (200, first["resolved_at"])
        refused = client.post(f"/api/v1/alerts/{alert.id}/snooze", json={"duration": "1h"}, headers=headers)
        assert (refused.status_code, refused.json()) == (409, {"detail": f"alert {alert.id} is already resolved"})
        for action in ("resolve", "snooze"):
            missing = client.post(f"/api/v1/alerts/4242/{action}", json={"duration": "1h"}, headers=headers)
            assert (missing.status_code, missing.json()) == (404, {"detail": "no alert with id 4242"})


def test_the_cli_refuses_a_snooze_without_a_length_or_beyond_thirty_days(web_store: Store) -> None:
    alert = _open_alert(web_store, "payroll")
    for args, problem in (
        ((), "smartcron: give --for DURATION or --until TIME\n"),
        (("--for", "45d"), "smartcron: duration: a snooze lasts from 1 min to 30 d\n"),
    ):
        runner = CliRunner()
        with runner.isolation() as (_out, err, _), pytest.raises(SystemExit) as exited:
            main(["alerts", "snooze", str(alert.id), *args])
        assert (exited.value.code, err.getvalue().decode()) == (2, problem)
    assert web_store.alerts.get(alert.id).snoozed_until is None
