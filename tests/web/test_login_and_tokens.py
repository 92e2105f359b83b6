"""Logging in and out, the login rate limit, sessions that end with a password change, API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.clock import FakeClock
from smartcron.config import Settings
from smartcron.domain.enums import Role
from smartcron.store import Store
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app
from tests.web.conftest import NOW, PASSWORD, add_task, csrf_of, log_in


def _attempt(client: TestClient, username: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )
    return answer.status_code


def test_login_with_the_right_password_opens_the_dashboard(anonymous: TestClient) -> None:
    assert _attempt(anonymous, "viewer", PASSWORD) == 303
    page = anonymous.get("/")
    assert page.status_code == 200
    assert "viewer (viewer)" in page.text


def test_a_wrong_password_or_unknown_user_is_refused_with_one_message(anonymous: TestClient) -> None:
    assert _attempt(anonymous, "viewer", "wrong-password") == 401
    assert _attempt(anonymous, "nobody", PASSWORD) == 401
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_login_without_the_form_token_is_refused(anonymous: TestClient) -> None:
    answer = anonymous.post("/login", data={"username": "viewer", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403


def test_five_failures_lock_the_name_for_this_address_until_the_window_passes(
    settings: Settings, web_store: Store
) -> None:
    clock = FakeClock(NOW)
    with TestClient(create_app(settings, web_store, clock=clock)) as client:
        for _ in range(5):
            assert _attempt(client, "operator", "wrong-password") == 401
        assert _attempt(client, "operator", PASSWORD) == 429  # even the right password waits
        assert _attempt(client, "viewer", PASSWORD) == 303  # other names are not locked
        clock.advance(timedelta(minutes=15).total_seconds())
        assert _attempt(client, "operator", PASSWORD) == 303


def test_logout_ends_the_session(viewer: tuple[TestClient, str]) -> None:
    client, csrf = viewer
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_changing_a_password_ends_existing_sessions(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    Accounts(web_store, actor="test").change_password("viewer", password="a-new-password", now=NOW)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_removing_a_user_ends_their_sessions(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    Accounts(web_store, actor="test").remove_user("viewer", now=NOW)
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_next_url_can_only_point_into_the_dashboard(app: FastAPI) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "/alerts"):
        with TestClient(app) as client:
            token = csrf_of(client.get("/login").text)
            answer = client.post(
                "/login",
                data={"username": "viewer", "password": PASSWORD, "csrf_token": token, "next": target},
                follow_redirects=False,
            )
        assert answer.headers["location"] == ("/alerts" if target == "/alerts" else "/"), target


def test_a_token_acts_with_its_role_and_needs_no_csrf(app: FastAPI, web_store: Store) -> None:
    add_task(web_store, "nightly")
    accounts = Accounts(web_store, actor="test")
    operator_token, _ = accounts.create_token("deploy", role=Role.OPERATOR, now=NOW)
    viewer_token, _ = accounts.create_token("grafana", role=Role.VIEWER, now=NOW)
    with TestClient(app) as client:
        queued = client.post("/api/v1/tasks/nightly/run", headers={"Authorization": f"Bearer {operator_token}"})
        assert queued.status_code == 202
        refused = client.post("/api/v1/tasks/nightly/run", headers={"Authorization": f"Bearer {viewer_token}"})
        assert refused.status_code == 403
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {viewer_token}"})
        assert metrics.status_code == 200
    assert web_store.executions.get(queued.json()["execution_id"]).status.value == "scheduled"
    assert web_store.tokens.list()[0].token_hash != operator_token  # only the digest is stored
    entry = web_store.audit.list(limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == ("web:token:deploy", "task.run", "nightly")


def test_a_revoked_token_stops_working_at_once(app: FastAPI, web_store: Store) -> None:
    accounts = Accounts(web_store, actor="test")
    token, _ = accounts.create_token("ci", role=Role.VIEWER, now=NOW)
    with TestClient(app) as client:
        assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        accounts.revoke_token("ci", now=NOW)
        assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_login_page_is_shown_to_a_logged_in_user_as_a_redirect(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    assert client.get("/login?next=/alerts", follow_redirects=False).headers["location"] == "/alerts"


def test_log_in_helper_sees_the_csrf_token_of_the_session(app: FastAPI) -> None:
    with TestClient(app) as client:
        token = log_in(client, "admin")
        assert token == csrf_of(client.get("/alerts").text)
