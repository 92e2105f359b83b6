"""Registering and removing a task: the CLI and the API do the same thing and audit it the same way."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.cli.tasks import cli_actor
from smartcron.domain.enums import Role
from smartcron.domain.task import TaskOrigin, TaskSpec
from smartcron.store import Store
from smartcron.store.audit import AuditEntry
from smartcron.web.accounts import Accounts
from tests.web.conftest import NOW, add_task

BODY: dict[str, Any] = {
    "name": "payroll_sync",
    "category": "payroll",
    "command": ["php", "/var/www/jobs/payroll_sync.php"],
    "schedule": "*/30 * * * *",
    "timezone": "Pacific/Auckland",
    "timeout": 120,
}
CLI_ADD = [
    "tasks", "add", "payroll_sync", "--category", "payroll", "--schedule", "*/30 * * * *",
    "--tz", "Pacific/Auckland", "--timeout", "120", "--", "php", "/var/www/jobs/payroll_sync.php",
]  # fmt: skip


def _cli(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _last_entry(store: Store) -> AuditEntry:
    return store.audit.list(limit=1)[0]


def _token(store: Store, role: Role) -> dict[str, str]:
    secret, _ = Accounts(store, actor="test").create_token(f"{role.value}-script", role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def test_a_task_added_with_the_cli_or_the_api_is_the_same_task_audited_the_same_way(
    app: FastAPI, web_store: Store
) -> None:
    _cli(*CLI_ADD)
    by_cli, cli_entry = web_store.tasks.get("payroll_sync"), _last_entry(web_store)
    _cli("tasks", "remove", "payroll_sync", "--yes")

    with TestClient(app) as client:
        answer = client.post("/api/v1/tasks", json=BODY, headers=_token(web_store, Role.ADMIN))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["name"], answer.json()["category"], answer.json()["schedule"]) == (
        "payroll_sync",
        "payroll",
        "*/30 * * * *",
    )
    by_api, api_entry = web_store.tasks.get("payroll_sync"), _last_entry(web_store)

    assert by_api.spec == by_cli.spec
    assert (by_cli.origin, by_api.origin) == (TaskOrigin.CLI, TaskOrigin.API)
    assert by_api.next_run_at is not None and answer.json()["next_run_at"] is not None
    assert (answer.json()["paused"], answer.json()["runs_7d"]) == (False, 0)
    assert (cli_entry.actor, cli_entry.action, cli_entry.target) == (cli_actor(), "task.add", "payroll_sync")
    assert (api_entry.actor, api_entry.action, api_entry.target) == (
        "web:token:admin-script",
        "task.add",
        "payroll_sync",
    )
    assert api_entry.details == cli_entry.details == {"spec": by_cli.spec.to_dict()}


def test_only_admins_register_tasks(app: FastAPI, web_store: Store) -> None:
    with TestClient(app) as client:
        for role in (Role.VIEWER, Role.OPERATOR):
            refused = client.post("/api/v1/tasks", json=BODY, headers=_token(web_store, role))
            assert refused.status_code == 403, role
        assert client.post("/api/v1/tasks", json=BODY).status_code == 401
    assert web_store.tasks.find("payroll_sync") is None


def test_a_logged_in_admin_needs_the_csrf_token_to_register_a_task(
    admin: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = admin
    assert client.post("/api/v1/tasks", json=BODY).status_code == 403
    assert client.post("/api/v1/tasks", json=BODY, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert _last_entry(web_store).actor == "web:admin"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"schedule": "0 0 30 2 *"}, "field 'schedule'"),
        ({"schedule": "every day"}, "field 'schedule'"),
        ({"timeout": "soon"}, "field 'timeout'"),
        ({"colour": "red"}, "colour"),
        ({"command": None}, "command"),
        ({"name": "smartcron.mine"}, "reserved"),
    ],
)
def test_a_bad_task_body_is_422_with_the_field_named(
    app: FastAPI, web_store: Store, change: dict[str, Any], named: str
) -> None:
    body = {key: value for key, value in (BODY | change).items() if value is not None}
    with TestClient(app) as client:
        answer = client.post("/api/v1/tasks", json=body, headers=_token(web_store, Role.ADMIN))
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["detail"]
    assert "\n" not in answer.json()["detail"]
    assert web_store.tasks.find(str(body["name"])) is None


def test_a_body_that_is_not_an_object_is_422(app: FastAPI, web_store: Store) -> None:
    headers = _token(web_store, Role.ADMIN)
    with TestClient(app) as client:
        for body in ([BODY], "payroll_sync", 42):
            answer = client.post("/api/v1/tasks", json=body, headers=headers)
            assert answer.status_code == 422, body


def test_registering_a_name_that_exists_is_409_and_changes_nothing(app: FastAPI, web_store: Store) -> None:
    add_task(web_store, "payroll_sync", timeout=5)
    with TestClient(app) as client:
        answer = client.post("/api/v1/tasks", json=BODY, headers=_token(web_store, Role.ADMIN))
    assert answer.status_code == 409
    assert answer.json() == {"detail": "task 'payroll_sync', field 'name': a task with this name already exists"}
    assert web_store.tasks.get("payroll_sync").spec.timeout == 5


def test_a_task_removed_with_the_cli_or_the_api_is_gone_and_audited_the_same_way(
    app: FastAPI, web_store: Store
) -> None:
    add_task(web_store, "payroll_sync", timeout=7)
    _cli("tasks", "remove", "payroll_sync", "--yes")
    cli_entry = _last_entry(web_store)
    assert web_store.tasks.find("payroll_sync") is None

    add_task(web_store, "payroll_sync", timeout=7)
    with TestClient(app) as client:
        answer = client.delete("/api/v1/tasks/payroll_sync", headers=_token(web_store, Role.ADMIN))
    assert (answer.status_code, answer.content) == (204, b"")
    api_entry = _last_entry(web_store)
    assert web_store.tasks.find("payroll_sync") is None

    assert (cli_entry.actor, cli_entry.action, cli_entry.target) == (cli_actor(), "task.remove", "payroll_sync")
    assert (api_entry.actor, api_entry.action, api_entry.target) == (
        "web:token:admin-script",
        "task.remove",
        "payroll_sync",
    )
    assert api_entry.details == cli_entry.details
    assert api_entry.details and api_entry.details["spec"]["timeout"] == 7


def test_removing_needs_an_admin_and_an_unknown_task_is_404(app: FastAPI, web_store: Store) -> None:
    add_task(web_store, "payroll_sync")
    with TestClient(app) as client:
        for role in (Role.VIEWER, Role.OPERATOR):
            assert client.delete("/api/v1/tasks/payroll_sync", headers=_token(web_store, role)).status_code == 403
        missing = client.delete("/api/v1/tasks/nope", headers=_token(web_store, Role.ADMIN))
    assert (missing.status_code, missing.json()) == (404, {"detail": "no task named 'nope'"})
    assert web_store.tasks.find("payroll_sync") is not None


def test_a_task_from_a_task_file_is_removed_only_with_force_and_the_refusal_says_so(
    app: FastAPI, web_store: Store
) -> None:
    spec = TaskSpec(name="payroll_sync", command=("true",), schedule="@daily")
    web_store.tasks.add(spec, now=NOW, next_run_at=None, origin=TaskOrigin.FILE)
    headers = _token(web_store, Role.ADMIN)
    with TestClient(app) as client:
        refused = client.delete("/api/v1/tasks/payroll_sync", headers=headers)
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            "task 'payroll_sync' was declared in a task file, whose next `tasks apply` adds it back: "
            "remove it from the file, or force the removal with ?force=true"
        )
        assert web_store.tasks.find("payroll_sync") is not None
        forced = client.delete("/api/v1/tasks/payroll_sync", params={"force": "true"}, headers=headers)
    assert forced.status_code == 204
    assert web_store.tasks.find("payroll_sync") is None
    entry = _last_entry(web_store)
    assert (entry.action, entry.target) == ("task.remove", "payroll_sync")
    assert entry.details and entry.details["origin"] == "file"


def test_a_built_in_task_is_never_removed_through_the_api(app: FastAPI, web_store: Store) -> None:
    builtin = next(task for task in web_store.tasks.list() if task.builtin)
    with TestClient(app) as client:
        answer = client.delete(
            f"/api/v1/tasks/{builtin.name}", params={"force": "true"}, headers=_token(web_store, Role.ADMIN)
        )
    assert answer.status_code == 422
    assert "built-in" in answer.json()["detail"]
    assert web_store.tasks.find(builtin.name) is not None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"schedule": "0 0 30 2 *"}, "field 'schedule'"),
        ({"timeout": "soon"}, "field 'timeout'"),
        ({"priority": 9}, "field 'priority'"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_change_is_422_with_the_field_named_as_for_a_new_task(
    app: FastAPI, web_store: Store, change: dict[str, Any], named: str
) -> None:
    add_task(web_store, "payroll_sync", timeout=5)
    before = web_store.tasks.get("payroll_sync").spec
    with TestClient(app) as client:
        headers = _token(web_store, Role.ADMIN)
        edited = client.patch("/api/v1/tasks/payroll_sync", json=change | {"timeout": 60, **change}, headers=headers)
        created = client.post("/api/v1/tasks", json=BODY | change, headers=headers)
    for answer in (edited, created):
        assert answer.status_code == 422, answer.text
        assert named in answer.json()["detail"] and "\n" not in answer.json()["detail"]
    assert web_store.tasks.get("payroll_sync").spec == before, "no partial change"
