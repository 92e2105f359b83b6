"""Silences and turning rules on and off: the CLI, the API and the silences page store the same
thing and write the same audit entry; roles, CSRF and bad input are answered the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.cli.tasks import cli_actor
from smartcron.domain.enums import Role, Severity
from smartcron.services.rule_actions import add_alert_rule
from smartcron.store import Store
from smartcron.web.accounts import Accounts
from tests.cli.test_runs_cli import run_main
from tests.web.conftest import NOW, add_task

_tokens: dict[tuple[int, Role], dict[str, str]] = {}


def _token(store: Store, role: Role) -> dict[str, str]:
    """A bearer token of ``role`` (one per store and role: a token's name is unique)."""
    key = (id(store), role)
    if key not in _tokens or all(t.name != f"{role.value}-script" for t in store.tokens.list()):
        secret, _ = Accounts(store, actor="test").create_token(f"{role.value}-script", role=role, now=NOW)
        _tokens[key] = {"Authorization": f"Bearer {secret}"}
    return _tokens[key]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def world(web_store: Store) -> Store:
    add_task(web_store, "nightly_backup")
    add_alert_rule(web_store, by="test", name="slow", kind="long_run", threshold="1h")
    return web_store


def _silence_by_cli(client: TestClient, csrf: str, store: Store) -> str:
    out = _cli("alerts", "silence", "add", "--task", "nightly_backup", "--rule", "slow", "--for", "2h",
               "--reason", "disk swap")  # fmt: skip
    assert out.startswith("silence ") and "no message about rule slow on task nightly_backup until" in out
    return cli_actor()


def _silence_by_api(client: TestClient, csrf: str, store: Store) -> str:
    body = {"task": "nightly_backup", "rule": "slow", "duration": "2h", "reason": "disk swap"}
    answer = client.post("/api/v1/alerts/silences", json=body, headers=_token(store, Role.OPERATOR))
    assert answer.status_code == 201, answer.text
    assert {k: answer.json()[k] for k in ("task", "rule", "reason")} == {
        "task": "nightly_backup",
        "rule": "slow",
        "reason": "disk swap",
    }
    return "web:token:operator-script"


def _silence_by_page(client: TestClient, csrf: str, store: Store) -> str:
    form = {"csrf_token": csrf, "task": "nightly_backup", "rule": "slow", "duration": "2h", "reason": "disk swap"}
    answer = client.post("/silences", data=form, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/silences")
    page = client.get("/silences").text
    assert "Silenced rule slow on task nightly_backup until" in page and "disk swap" in page
    return "web:operator"


Door = Callable[[TestClient, str, Store], str]


@pytest.mark.parametrize("door", [_silence_by_cli, _silence_by_api, _silence_by_page], ids=["cli", "api", "dashboard"])
def test_a_silence_through_any_door_is_the_same_silence_and_audit_entry(
    world: Store, operator: tuple[TestClient, str], door: Door
) -> None:
    client, csrf = operator
    actor = door(client, csrf, world)
    [silence] = world.silences.list(now=world.database_now())
    assert (silence.task_name, silence.rule_name, silence.reason, silence.created_by) == (
        "nightly_backup",
        "slow",
        "disk swap",
        actor,
    )
    minutes = (silence.until - silence.created_at).total_seconds() / 60
    assert minutes == pytest.approx(120, abs=0.1)
    [entry] = [e for e in world.audit.list() if e.action == "alert.silence"]
    assert (entry.actor, entry.target) == (actor, f"silence {silence.id}")
    assert entry.details == {"task": "nightly_backup", "rule": "slow", "until": silence.until.isoformat(),
                             "reason": "disk swap"}  # fmt: skip
    listed = client.get("/api/v1/alerts/silences").json()
    assert [item["id"] for item in listed] == [silence.id]
    assert f'data-silence="{silence.id}"' in client.get("/silences").text


def _unsilence(door: str, client: TestClient, csrf: str, store: Store, silence_id: int) -> str:
    if door == "cli":
        assert _cli("alerts", "silence", "remove", str(silence_id)).startswith(f"removed silence {silence_id} of")
        return cli_actor()
    if door == "api":
        answer = client.delete(f"/api/v1/alerts/silences/{silence_id}", headers=_token(store, Role.OPERATOR))
        assert answer.status_code == 204, answer.text
        return "web:token:operator-script"
    answer = client.post(f"/silences/{silence_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    return "web:operator"


@pytest.mark.parametrize("door", ["cli", "api", "dashboard"])
def test_removing_a_silence_through_any_door_is_audited_the_same_way(
    world: Store, operator: tuple[TestClient, str], door: str
) -> None:
    client, csrf = operator
    _cli("alerts", "silence", "add", "--task", "nightly_backup", "--for", "1h")
    [silence] = world.silences.list(now=world.database_now())
    actor = _unsilence(door, client, csrf, world, silence.id)
    assert world.silences.list(now=world.database_now()) == []
    [entry] = [e for e in world.audit.list() if e.action == "alert.unsilence"]
    assert (entry.actor, entry.target, entry.details) == (
        actor,
        f"silence {silence.id}",
        {"task": "nightly_backup", "rule": None},
    )


def test_viewers_cannot_silence_and_a_form_without_csrf_is_refused(
    world: Store, viewer: tuple[TestClient, str], operator: tuple[TestClient, str]
) -> None:
    viewer_client, viewer_csrf = viewer
    form = {"task": "nightly_backup", "duration": "2h"}
    assert viewer_client.post("/silences", data=form | {"csrf_token": viewer_csrf}).status_code == 403
    answer = viewer_client.post("/api/v1/alerts/silences", json=form, headers=_token(world, Role.VIEWER))
    assert answer.status_code == 403
    operator_client, _ = operator
    assert operator_client.post("/silences", data=form).status_code == 403
    assert world.silences.list(now=world.database_now(), include_ended=True) == []


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"duration": "2h"}, 422, "task: give a task or a rule (or both) to silence"),
        ({"task": "nightly_backup", "duration": "2h", "until": "2030-01-01T00:00:00Z"}, 422,
         "silence: give a duration or an end time (until), one of the two"),
        ({"task": "nightly_backup", "duration": "forever"}, 422,
         "duration: 'forever' is not a duration (e.g. 30m, 2h, 1d)"),
        ({"task": "nobody", "duration": "2h"}, 404, "no task named 'nobody'"),
        ({"task": "nightly_backup", "duration": "2h", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_silence_through_the_api_names_the_field_and_stores_nothing(
    world: Store, anonymous: TestClient, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = anonymous.post("/api/v1/alerts/silences", json=body, headers=_token(world, Role.OPERATOR))
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})
    assert world.silences.list(now=world.database_now(), include_ended=True) == []
    assert not [e for e in world.audit.list() if e.action == "alert.silence"]


def test_a_bad_silence_on_the_command_line_is_one_line_and_exit_code_2(world: Store) -> None:
    code, _, err = run_main("alerts", "silence", "add", "--task", "nightly_backup", "--for", "forever")
    assert (code, err.strip()) == (2, "smartcron: duration: 'forever' is not a duration (e.g. 30m, 2h, 1d)")
    code, _, err = run_main("alerts", "silence", "add", "--for", "2h")
    assert (code, err.strip()) == (2, "smartcron: task: give a task or a rule (or both) to silence")
    code, _, err = run_main("alerts", "silence", "remove", "999")
    assert (code, err.strip()) == (2, "smartcron: no silence with id 999")
    assert world.silences.list(now=world.database_now(), include_ended=True) == []


def _toggle(door: str, client: TestClient, csrf: str, store: Store, enabled: bool) -> str:
    verb = "enable" if enabled else "disable"
    if door == "cli":
        assert _cli("alerts", "rules", verb, "slow").strip() == f"{verb}d rule slow"
        return cli_actor()
    if door == "api":
        answer = client.post(f"/api/v1/alerts/rules/slow/{verb}", headers=_token(store, Role.ADMIN))
        assert answer.status_code == 200 and answer.json()["enabled"] is enabled, answer.text
        return "web:token:admin-script"
    answer = client.post(f"/alerts/rules/slow/{verb}", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    return "web:admin"


@pytest.mark.parametrize("door", ["cli", "api", "dashboard"])
def test_turning_a_rule_off_and_on_through_any_door_is_audited_the_same_way(
    world: Store, admin: tuple[TestClient, str], door: str
) -> None:
    client, csrf = admin
    task_id = world.tasks.get("nightly_backup").id
    kind = world.alert_rules.get("slow").alert_kind
    world.alerts.raise_or_repeat(kind, task_id=task_id, severity=world.alert_rules.get("slow").severity,
                                 message="slow", now=NOW, notify_after=None)  # fmt: skip
    actor = _toggle(door, client, csrf, world, enabled=False)
    assert world.alert_rules.get("slow").enabled is False
    assert world.alerts.find_open(kind, task_id=task_id) is None, "a disabled rule's alerts are resolved"
    actor_again = _toggle(door, client, csrf, world, enabled=True)
    assert world.alert_rules.get("slow").enabled is True and actor_again == actor
    entries = [(e.actor, e.action, e.target) for e in world.audit.list() if e.action.startswith("rule.")]
    assert entries[:2] == [(actor, "rule.enable", "slow"), (actor, "rule.disable", "slow")]


def test_operators_cannot_turn_rules_off(world: Store, operator: tuple[TestClient, str]) -> None:
    client, csrf = operator
    assert client.post("/alerts/rules/slow/disable", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/api/v1/alerts/rules/slow/disable", headers=_token(world, Role.OPERATOR)).status_code == 403
    assert world.alert_rules.get("slow").enabled is True


def test_a_silenced_open_alert_says_until_when_in_the_api_and_the_page_counts_it(
    world: Store, operator: tuple[TestClient, str]
) -> None:
    client, _ = operator
    now = world.database_now()
    task_id = world.tasks.get("nightly_backup").id
    quiet, _ = world.alerts.raise_or_repeat("task_failed", task_id=task_id, severity=Severity.CRITICAL,
                                            message="nightly_backup failed", now=now, notify_after=now)  # fmt: skip
    loud, _ = world.alerts.raise_or_repeat("health_disk", task_id=None, severity=Severity.HIGH,
                                           message="disk 91 % used", now=now, notify_after=now)  # fmt: skip
    _cli("alerts", "silence", "add", "--task", "nightly_backup", "--for", "2h")
    [silence] = world.silences.list(now=now)

    listed = {item["id"]: item for item in client.get("/api/v1/alerts").json()}
    assert listed[quiet.id]["silenced_until"] is not None and listed[loud.id]["silenced_until"] is None
    assert listed[quiet.id]["silenced_until"].startswith(silence.until.strftime("%Y-%m-%dT%H:%M"))
    page = client.get("/silences").text
    row = page.split(f'<tr data-silence="{silence.id}">')[1].split("</tr>")[0]
    assert '<td class="held">1</td>' in row
    by_cli = {item["id"]: item for item in json.loads(_cli("alerts", "list", "--json"))}
    assert by_cli[quiet.id]["silenced_until"] == listed[quiet.id]["silenced_until"].replace("Z", "+00:00")
    assert by_cli[loud.id]["silenced_until"] is None
    table = {line.split()[0]: line for line in _cli("alerts", "list").splitlines()[1:] if line.strip()}
    assert "open, silenced" in table[str(quiet.id)] and "silenced" not in table[str(loud.id)]


def test_the_cli_lists_silences_in_force_and_with_all_those_that_ended(world: Store) -> None:
    _cli("alerts", "silence", "add", "--task", "nightly_backup", "--for", "2h", "--reason", "disk swap")
    table = _cli("alerts", "silence", "list")
    assert table.splitlines()[0].split() == ["ID", "SILENCES", "UNTIL", "BY", "REASON"]
    assert "task nightly_backup" in table and "disk swap" in table
    [item] = json.loads(_cli("alerts", "silence", "list", "--json"))
    assert (item["task"], item["rule"], item["reason"]) == ("nightly_backup", None, "disk swap")
    _cli("alerts", "silence", "remove", str(item["id"]))
    assert _cli("alerts", "silence", "list").strip() == "no silence in force"
