"""Users and API tokens through the API (admins only): the same accounts, the same checks and the
same audit entries as ``smartcron users`` and ``smartcron tokens``."""

from __future__ import annotations

import getpass
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.domain.enums import Role
from smartcron.store import Store
from smartcron.store.audit import AuditEntry
from smartcron.web.accounts import Accounts, password_matches
from tests.web.conftest import NOW, PASSWORD, log_in

CLI_ACTOR = f"cli:{getpass.getuser()}"


def _token(store: Store, role: Role, name: str | None = None) -> dict[str, str]:
    secret, _ = Accounts(store, actor="test").create_token(name or f"{role.value}-script", role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def _cli(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _last(store: Store) -> AuditEntry:
    return store.audit.list(limit=1)[0]


def _same_entry(entry: AuditEntry, actor: str, action: str, target: str, details: Any) -> None:
    assert (entry.actor, entry.action, entry.target, entry.details) == (actor, action, target, details)


@pytest.fixture
def admin_token(web_store: Store) -> dict[str, str]:
    return _token(web_store, Role.ADMIN)


def test_a_user_added_and_removed_with_the_cli_or_the_api_is_audited_the_same_way(
    app: FastAPI, web_store: Store, admin_token: dict[str, str]
) -> None:
    _cli("users", "add", "maria", "--role", "operator", "--password-stdin", input="a long passphrase\n")
    _same_entry(_last(web_store), CLI_ACTOR, "user.add", "maria", {"role": "operator"})
    by_cli = web_store.users.get("maria")
    _cli("users", "remove", "maria")
    _same_entry(_last(web_store), CLI_ACTOR, "user.remove", "maria", None)

    with TestClient(app) as client:
        body = {"name": "maria", "role": "operator", "password": "a long passphrase"}
        added = client.post("/api/v1/users", json=body, headers=admin_token)
        assert added.status_code == 201, added.text
        assert added.json()["name"] == "maria" and added.json()["role"] == "operator"
        assert "password" not in added.text
        _same_entry(_last(web_store), "web:token:admin-script", "user.add", "maria", {"role": "operator"})
        by_api = web_store.users.get("maria")
        assert by_api.role is by_cli.role is Role.OPERATOR
        assert password_matches(by_api.password_hash, "a long passphrase")
        assert "maria" in [u["name"] for u in client.get("/api/v1/users", headers=admin_token).json()]
        assert client.delete("/api/v1/users/maria", headers=admin_token).status_code == 204
    _same_entry(_last(web_store), "web:token:admin-script", "user.remove", "maria", None)
    assert web_store.users.find("maria") is None


def test_a_password_set_through_the_api_opens_the_dashboard_and_ends_old_sessions(
    app: FastAPI, web_store: Store, admin_token: dict[str, str]
) -> None:
    with TestClient(app) as old_session, TestClient(app) as api:
        log_in(old_session, "operator")
        answer = api.put(
            "/api/v1/users/operator/password", json={"password": "another passphrase"}, headers=admin_token
        )
        assert answer.status_code == 204
        assert old_session.get("/", follow_redirects=False).status_code == 303
    _same_entry(_last(web_store), "web:token:admin-script", "user.passwd", "operator", None)
    with TestClient(app) as fresh:
        log_in(fresh, "operator", "another passphrase")


def test_a_token_created_through_the_api_works_once_shown_and_stops_when_revoked(
    app: FastAPI, web_store: Store, admin_token: dict[str, str]
) -> None:
    with TestClient(app) as client:
        created = client.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer"}, headers=admin_token)
        assert created.status_code == 201, created.text
        plain = created.json()["token"]
        _same_entry(_last(web_store), "web:token:admin-script", "token.create", "grafana", {"role": "viewer"})
        grafana = {"Authorization": f"Bearer {plain}"}
        assert client.get("/api/v1/tasks", headers=grafana).status_code == 200
        assert client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=grafana).status_code == 403
        listed = client.get("/api/v1/tokens", headers=admin_token)
        assert "grafana" in [t["name"] for t in listed.json()] and plain not in listed.text
        assert client.delete("/api/v1/tokens/grafana", headers=admin_token).status_code == 204
        assert client.get("/api/v1/tasks", headers=grafana).status_code == 401
    _same_entry(_last(web_store), "web:token:admin-script", "token.revoke", "grafana", None)
    _cli("tokens", "create", "grafana", "--role", "viewer")
    _same_entry(_last(web_store), CLI_ACTOR, "token.create", "grafana", {"role": "viewer"})
    _cli("tokens", "revoke", "grafana")
    _same_entry(_last(web_store), CLI_ACTOR, "token.revoke", "grafana", None)


def test_only_admins_manage_accounts(app: FastAPI, web_store: Store, operator: tuple[TestClient, str]) -> None:
    session, csrf = operator
    requests = [
        ("get", "/api/v1/users", None),
        ("post", "/api/v1/users", {"name": "eve", "role": "admin", "password": "a long passphrase"}),
        ("delete", "/api/v1/users/admin", None),
        ("put", "/api/v1/users/admin/password", {"password": "a long passphrase"}),
        ("get", "/api/v1/tokens", None),
        ("post", "/api/v1/tokens", {"name": "eve", "role": "admin"}),
        ("delete", "/api/v1/tokens/viewer-script", None),
    ]
    with TestClient(app) as client:
        for role in (Role.VIEWER, Role.OPERATOR):
            headers = _token(web_store, role)
            for method, path, body in requests:
                answer = client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 403, (role, method, path)
        for method, path, body in requests:
            assert session.request(method, path, json=body, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert web_store.users.find("eve") is None and web_store.users.get("admin").role is Role.ADMIN


@pytest.mark.parametrize(
    ("path", "body", "status", "named"),
    [
        ("/api/v1/users", {"name": "maria", "role": "operator", "password": "short"}, 422, "password: at least 8"),
        ("/api/v1/users", {"name": "has space", "role": "operator", "password": PASSWORD}, 422, "user name"),
        (
            "/api/v1/users",
            {"name": "admin", "role": "operator", "password": PASSWORD},
            409,
            "user 'admin' already exists",
        ),
        ("/api/v1/users", {"name": "maria", "role": "root", "password": PASSWORD}, 422, "role"),
        ("/api/v1/users", {"name": "maria", "role": "viewer"}, 422, "password"),
        ("/api/v1/users", {"name": "maria", "role": "viewer", "password": PASSWORD, "x": 1}, 422, "x"),
        ("/api/v1/tokens", {"name": "admin-script", "role": "viewer"}, 409, "token 'admin-script' already exists"),
        ("/api/v1/tokens", {"name": "../etc", "role": "viewer"}, 422, "token name"),
    ],
)
def test_bad_account_input_is_refused_with_the_field_named(
    app: FastAPI,
    web_store: Store,
    admin_token: dict[str, str],
    path: str,
    body: dict[str, Any],
    status: int,
    named: str,
) -> None:
    with TestClient(app) as client:
        answer = client.post(path, json=body, headers=admin_token)
    assert answer.status_code == status, answer.text
    assert named in answer.json()["detail"]
    assert web_store.users.find("maria") is None


def test_unknown_accounts_are_404(app: FastAPI, admin_token: dict[str, str]) -> None:
    with TestClient(app) as client:
        for method, path, body in (
            ("delete", "/api/v1/users/nobody", None),
            ("put", "/api/v1/users/nobody/password", {"password": PASSWORD}),
            ("delete", "/api/v1/tokens/nothing", None),
        ):
            assert client.request(method, path, json=body, headers=admin_token).status_code == 404, path
