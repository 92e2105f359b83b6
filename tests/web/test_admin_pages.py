"""The users page and the manage-tasks page, for admins: each form does what ``smartcron users``,
``smartcron tokens``, ``smartcron tasks add|remove`` and the API do, with the same audit entry;
a new token is shown once and never put in the session; viewers and operators are refused, and
so is a form without the CSRF token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from smartcron.domain.task import TaskOrigin, TaskSpec
from smartcron.store import Store
from smartcron.web.accounts import password_matches, token_for
from tests.web.conftest import add_task


def _entry(store: Store, action: str) -> tuple[str, str | None, object]:
    [entry] = [e for e in store.audit.list() if e.action == action and e.actor != "test"]
    return entry.actor, entry.target, entry.details


def test_an_admin_adds_and_removes_a_user_from_the_users_page(web_store: Store, admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {"csrf_token": csrf, "name": "maria", "role": "operator", "password": "a long passphrase"}
    answer = client.post("/users", data=form, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/users")
    page = client.get("/users").text
    assert "Added maria (operator)." in page and '<tr data-user="maria">' in page
    maria = web_store.users.get("maria")
    assert password_matches(maria.password_hash, "a long passphrase")
    assert _entry(web_store, "user.add") == ("web:admin", "maria", {"role": "operator"})

    assert client.post("/users/maria/delete", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert web_store.users.find("maria") is None
    assert _entry(web_store, "user.remove") == ("web:admin", "maria", None)


def test_a_bad_user_is_refused_naming_the_field_and_nothing_is_stored(
    web_store: Store, admin: tuple[TestClient, str]
) -> None:
    client, csrf = admin
    short = client.post("/users", data={"csrf_token": csrf, "name": "maria", "role": "viewer", "password": "short"})
    assert short.status_code == 422 and "password: at least 8 characters" in short.text
    spaced = client.post("/users", data={"csrf_token": csrf, "name": "a b", "role": "viewer", "password": "x" * 12})
    assert spaced.status_code == 422 and "user name &#39;a b&#39;: use letters, digits" in spaced.text
    role = client.post("/users", data={"csrf_token": csrf, "name": "maria", "role": "root", "password": "x" * 12})
    assert role.status_code == 422 and "role:" in role.text
    taken = client.post("/users", data={"csrf_token": csrf, "name": "viewer", "role": "viewer", "password": "x" * 12})
    assert taken.status_code == 409
    assert web_store.users.find("maria") is None
    assert not [e for e in web_store.audit.list() if e.action == "user.add" and e.actor == "web:admin"]


def test_a_new_token_is_shown_once_works_and_is_revoked_from_the_page(
    web_store: Store, admin: tuple[TestClient, str]
) -> None:
    client, csrf = admin
    answer = client.post("/tokens", data={"csrf_token": csrf, "name": "grafana", "role": "viewer"})
    assert answer.status_code == 201
    [plain] = [line.split("<code id=\"new-token\">")[1].split("</code>")[0]
               for line in answer.text.splitlines() if '<code id="new-token">' in line]  # fmt: skip
    assert token_for(web_store, plain, now=web_store.database_now()) is not None
    assert answer.headers["cache-control"] == "no-store"
    again = client.get("/users").text
    assert plain not in again and '<tr data-token="grafana">' in again, "shown once: not on the next page"
    assert plain not in str(client.cookies.get("smartcron_session")), "never kept in the session"
    assert _entry(web_store, "token.create") == ("web:admin", "grafana", {"role": "viewer"})

    with TestClient(client.app) as script:
        assert script.get("/api/v1/tasks", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
        assert (
            client.post("/tokens/grafana/revoke", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        )
        assert script.get("/api/v1/tasks", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert _entry(web_store, "token.revoke") == ("web:admin", "grafana", None)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/users", None),
        ("post", "/users", {"name": "maria", "role": "viewer", "password": "a long passphrase"}),
        ("post", "/users/viewer/delete", {}),
        ("post", "/tokens", {"name": "grafana", "role": "viewer"}),
        ("get", "/manage/tasks", None),
        ("post", "/manage/tasks", {"name": "t1", "command": "true", "schedule": "@daily"}),
        ("post", "/manage/tasks/payroll/delete", {}),
    ],
)
def test_operators_are_refused_every_admin_page_and_form(
    web_store: Store, operator: tuple[TestClient, str], method: str, path: str, data: dict[str, str] | None
) -> None:
    add_task(web_store, "payroll")
    client, csrf = operator
    answer = client.get(path) if method == "get" else client.post(path, data=(data or {}) | {"csrf_token": csrf})
    assert answer.status_code == 403
    assert web_store.users.find("maria") is None and web_store.users.find("viewer") is not None
    assert web_store.tasks.find("payroll") is not None and web_store.tasks.find("t1") is None


def test_admin_forms_without_the_csrf_token_are_refused(web_store: Store, admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    add_task(web_store, "payroll")
    assert client.post("/users", data={"name": "maria", "role": "viewer", "password": "x" * 12}).status_code == 403
    assert client.post("/tokens", data={"name": "grafana", "role": "viewer"}).status_code == 403
    assert client.post("/manage/tasks/payroll/delete", data={}).status_code == 403
    assert web_store.users.find("maria") is None and web_store.tokens.list() == []
    assert web_store.tasks.find("payroll") is not None


def test_an_admin_adds_a_task_from_the_page_as_the_api_would(web_store: Store, admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {
        "csrf_token": csrf,
        "name": "sync_vend",
        "command": "php '/var/www/jobs/sync vend.php' --full",
        "schedule": "*/30 * * * *",
        "category": "vend",
        "timezone": "Pacific/Auckland",
        "priority": "1",
        "timeout": "120",
    }
    answer = client.post("/manage/tasks", data=form, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/manage/tasks")
    task = web_store.tasks.get("sync_vend")
    assert task.spec.command == ("php", "/var/www/jobs/sync vend.php", "--full") and not task.spec.shell
    assert (task.spec.category, task.spec.timezone, task.spec.priority, task.spec.timeout) == (
        "vend",
        "Pacific/Auckland",
        1,
        120,
    )
    assert task.origin is TaskOrigin.WEB
    actor, target, _ = _entry(web_store, "task.add")
    assert (actor, target) == ("web:admin", "sync_vend")
    assert '<tr data-task="sync_vend">' in client.get("/manage/tasks").text

    shell = form | {"name": "report", "command": "report.sh | mail ops", "shell": "on", "schedule": "@daily"}
    assert client.post("/manage/tasks", data=shell, follow_redirects=False).status_code == 303
    assert web_store.tasks.get("report").spec.command == ("report.sh | mail ops",)


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"schedule": "0 0 30 2 *"}, 422, "schedule"),
        ({"timeout": "soon"}, 422, "field &#39;timeout&#39;: expected a whole number"),
        ({"command": "php 'unclosed"}, 422, "command: No closing quotation"),
        ({"name": "payroll"}, 409, "payroll"),
    ],
)
def test_a_bad_task_from_the_page_names_the_field_and_stores_nothing(
    web_store: Store, admin: tuple[TestClient, str], change: dict[str, str], status: int, detail: str
) -> None:
    add_task(web_store, "payroll")
    client, csrf = admin
    form = {"csrf_token": csrf, "name": "t1", "command": "true", "schedule": "@daily"} | change
    answer = client.post("/manage/tasks", data=form)
    assert answer.status_code == status and detail in answer.text, answer.text[-600:]
    assert {t.name for t in web_store.tasks.list()} - {"payroll"} == {
        t.name for t in web_store.tasks.list() if t.builtin
    }


def test_an_admin_removes_a_task_and_a_task_file_task_needs_force(
    web_store: Store, admin: tuple[TestClient, str]
) -> None:
    client, csrf = admin
    add_task(web_store, "payroll")
    assert (
        client.post("/manage/tasks/payroll/delete", data={"csrf_token": csrf}, follow_redirects=False).status_code
        == 303
    )
    assert web_store.tasks.find("payroll") is None
    actor, target, _ = _entry(web_store, "task.remove")
    assert (actor, target) == ("web:admin", "payroll")

    spec = TaskSpec(name="declared", command=("true",), schedule="@daily")
    web_store.tasks.add(spec, now=web_store.database_now(), next_run_at=None, origin=TaskOrigin.FILE)
    html = client.get("/manage/tasks").text
    assert "declared in a task file: remove anyway" in html
    refused = client.post("/manage/tasks/declared/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "was declared in a task file" in refused.text
    hx = client.post("/manage/tasks/declared/delete", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert (hx.status_code, hx.headers["hx-redirect"]) == (200, "/manage/tasks")
    assert (
        "Task declared was not removed: task &#39;declared&#39; was declared in a task file"
        in client.get("/manage/tasks").text
    )
    assert web_store.tasks.find("declared") is not None
    forced = client.post(
        "/manage/tasks/declared/delete", data={"csrf_token": csrf, "force": "on"}, follow_redirects=False
    )
    assert forced.status_code == 303 and web_store.tasks.find("declared") is None


def test_an_admin_sets_a_users_password_from_the_page(web_store: Store, admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    form = {"csrf_token": csrf, "password": "another passphrase"}
    answer = client.post("/users/operator/password", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert password_matches(web_store.users.get("operator").password_hash, "another passphrase")
    assert _entry(web_store, "user.passwd") == ("web:admin", "operator", None)
    short = client.post("/users/operator/password", data={"csrf_token": csrf, "password": "short"})
    assert short.status_code == 422 and "password: at least 8 characters" in short.text
    unknown = client.post("/users/nobody/password", data=form)
    assert unknown.status_code == 404
    assert password_matches(web_store.users.get("operator").password_hash, "another passphrase")
