"""Adding and removing a custom alert rule: the CLI, the API and the alert center check it the same
way, store the same rule and audit it the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.cli.tasks import cli_actor
from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.enums import AlertState, Role, Severity
from smartcron.store import Store
from smartcron.web.accounts import Accounts
from tests.web.conftest import NOW, add_task

Door = Callable[[TestClient, str], str]
"""Does the action through one door; returns the actor the audit log should name."""


def _token(store: Store, role: Role, name: str | None = None) -> dict[str, str]:
    secret, _ = Accounts(store, actor="test").create_token(name or f"{role.value}-script", role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def _cli(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture
def admin_token(web_store: Store) -> dict[str, str]:
    return _token(web_store, Role.ADMIN)


def test_a_rule_added_through_any_door_is_the_same_rule_audited_the_same_way(
    app: FastAPI, web_store: Store, admin: tuple[TestClient, str], admin_token: dict[str, str]
) -> None:
    client, csrf = admin
    add_task(web_store, "payroll")
    doors: dict[str, Callable[[], Any]] = {
        cli_actor(): lambda: _cli(
            "alerts",
            "rules",
            "add",
            "flaky",
            "--kind",
            "failure_rate",
            "--threshold",
            "20",
            "--window",
            "6h",
            "--task",
            "payroll",
            "--severity",
            "low",
        ),
        "web:token:admin-script": lambda: client.post(
            "/api/v1/alerts/rules",
            json={
                "name": "flaky",
                "kind": "failure_rate",
                "threshold": 20,
                "window": "6h",
                "task": "payroll",
                "severity": "low",
            },
            headers=admin_token,
        ),
        "web:admin": lambda: client.post(
            "/alerts/rules",
            data={
                "csrf_token": csrf,
                "name": "flaky",
                "kind": "failure_rate",
                "threshold": "20",
                "window_seconds": "21600",
                "task": "payroll",
                "severity": "low",
            },
            follow_redirects=False,
        ),
    }
    seen = []
    for actor, door in doors.items():
        answer = door()
        if answer is not None:
            assert answer.status_code in (201, 303), answer.text
        [rule] = web_store.alert_rules.list()
        entry = web_store.audit.list(limit=1)[0]
        assert (entry.actor, entry.action, entry.target) == (actor, "rule.add", "flaky")
        seen.append(({k: v for k, v in rule.to_dict().items() if k not in ("id", "created_at")}, entry.details))
        web_store.alert_rules.remove("flaky")
    first_rule, first_details = seen[0]
    assert first_rule["kind"] == "failure_rate" and first_rule["window_seconds"] == 21600
    assert first_rule["task"] == "payroll" and first_rule["severity"] == "low"
    for rule, details in seen[1:]:
        assert rule == first_rule
        assert {k: v for k, v in (details or {}).items() if k != "id"} == {
            k: v for k, v in (first_details or {}).items() if k != "id"
        }


def _remove_by_cli(client: TestClient, csrf: str) -> str:
    _cli("alerts", "rules", "remove", "payroll-slow")
    return cli_actor()


def _remove_by_api(client: TestClient, csrf: str) -> str:
    store = client.app.state.store  # type: ignore[attr-defined]
    answer = client.delete("/api/v1/alerts/rules/payroll-slow", headers=_token(store, Role.ADMIN))
    assert (answer.status_code, answer.content) == (204, b"")
    return "web:token:admin-script"


def _remove_in_the_alert_center(client: TestClient, csrf: str) -> str:
    answer = client.post("/alerts/rules/payroll-slow/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    return "web:admin"


@pytest.mark.parametrize("door", [_remove_by_cli, _remove_by_api, _remove_in_the_alert_center])
def test_a_rule_removed_through_any_door_is_gone_with_its_open_alerts_and_audited_the_same_way(
    web_store: Store, admin: tuple[TestClient, str], door: Door
) -> None:
    client, csrf = admin
    task_id = add_task(web_store, "payroll")
    rule = web_store.alert_rules.add("payroll-slow", RuleKind.LONG_RUN, 3600, severity=Severity.HIGH, now=NOW)
    alert, _ = web_store.alerts.raise_or_repeat(
        rule.alert_kind, task_id=task_id, severity=Severity.HIGH, message="slow", now=NOW, notify_after=None
    )
    actor = door(client, csrf)
    assert web_store.alert_rules.list() == []
    assert web_store.alerts.get(alert.id).state is AlertState.RESOLVED
    entry = web_store.audit.list(limit=1)[0]
    assert (entry.actor, entry.action, entry.target, entry.details) == (actor, "rule.remove", "payroll-slow", None)


def test_only_admins_add_or_remove_rules_and_viewers_list_them(app: FastAPI, web_store: Store) -> None:
    web_store.alert_rules.add("payroll-slow", RuleKind.LONG_RUN, 3600, severity=Severity.HIGH, now=NOW)
    body = {"name": "other", "kind": "long_run", "threshold": "1h"}
    with TestClient(app) as client:
        for role in (Role.VIEWER, Role.OPERATOR):
            headers = _token(web_store, role)
            assert client.post("/api/v1/alerts/rules", json=body, headers=headers).status_code == 403
            assert client.delete("/api/v1/alerts/rules/payroll-slow", headers=headers).status_code == 403
        listed = client.get("/api/v1/alerts/rules", headers=_token(web_store, Role.VIEWER, "grafana"))
    assert [(r["name"], r["description"]) for r in listed.json()] == [
        ("payroll-slow", "every task: a run longer than 1 h")
    ]
    assert [r.name for r in web_store.alert_rules.list()] == ["payroll-slow"]


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"kind": "long_run", "threshold": "soon"}, 422, "threshold: expected a duration"),
        ({"kind": "failure_rate", "threshold": 150}, 422, "threshold: expected a percentage"),
        ({"kind": "failure_rate", "threshold": 20, "window": "10s"}, 422, "window: at least 60 s"),
        ({"kind": "long_run", "threshold": "1h", "window": "1h"}, 422, "window and min_runs apply to failure_rate"),
        ({"kind": "long_run", "threshold": "1h", "task": "nope"}, 404, "no task named 'nope'"),
        ({"kind": "long_run", "threshold": "1h", "name": "has space"}, 422, "rule name 'has space'"),
        ({"kind": "long_ride", "threshold": "1h"}, 422, "kind"),
        ({"kind": "long_run"}, 422, "threshold"),
        ({"kind": "long_run", "threshold": "1h", "colour": "red"}, 422, "colour"),
        ({"kind": "failure_rate", "threshold": 20, "min_runs": 0}, 422, "min_runs"),
        ({"kind": "long_run", "threshold": "1h", "name": "payroll-slow"}, 409, "already exists"),
    ],
)
def test_a_bad_rule_is_refused_with_the_field_named(
    app: FastAPI, web_store: Store, admin_token: dict[str, str], body: dict[str, Any], status: int, named: str
) -> None:
    web_store.alert_rules.add("payroll-slow", RuleKind.LONG_RUN, 3600, severity=Severity.HIGH, now=NOW)
    with TestClient(app) as client:
        answer = client.post("/api/v1/alerts/rules", json={"name": "new-rule"} | body, headers=admin_token)
    assert answer.status_code == status, answer.text
    assert named in answer.json()["detail"]
    assert [r.name for r in web_store.alert_rules.list()] == ["payroll-slow"]


def test_removing_an_unknown_rule_is_404(app: FastAPI, admin_token: dict[str, str]) -> None:
    with TestClient(app) as client:
        answer = client.delete("/api/v1/alerts/rules/nope", headers=admin_token)
    assert (answer.status_code, answer.json()) == (404, {"detail": "no alert rule named 'nope'"})
