"""Nobody gets in without logging in, no change happens without a CSRF token from our own origin,
roles are enforced, and nothing a task prints can run in the browser or reach outside the logs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.web.conftest import NOW, add_task

PUBLIC = {"/login", "/healthz", "/logout", "/favicon.ico"}
PARAMS = {"name": "nightly", "execution_id": "1", "alert_id": "1"}


def walk_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, also inside included routers (FastAPI >= 0.160 keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from walk_routes(nested.routes)


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in walk_routes(app.routes):
        if route.path not in PUBLIC:
            path = re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "x"), route.path)
            found.extend((method, path) for method in sorted(route.methods))
    return found


def test_every_route_is_enumerated_from_the_app(app: FastAPI) -> None:
    paths = {path for _, path in _routes(app)}
    assert {"/", "/api/v1/tasks", "/metrics", "/api/openapi.json", "/tasks/nightly/run"} <= paths
    assert len(paths) > 25


def test_every_page_redirects_to_login_and_every_api_route_answers_401(
    app: FastAPI, anonymous: TestClient, web_store: Store
) -> None:
    add_task(web_store, "nightly")
    for method, path in _routes(app):
        answer = anonymous.request(method, path, follow_redirects=False)
        if path.startswith("/api/") or path == "/metrics":
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json() == {"detail": "authentication required"}
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login")
    assert web_store.executions.count() == 0
    assert not web_store.tasks.get("nightly").paused


def test_healthz_is_public_and_pings_the_database(anonymous: TestClient) -> None:
    answer = anonymous.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_a_wrong_token_is_refused_like_no_token(anonymous: TestClient) -> None:
    for header in ("Bearer sct_wrong", "Bearer ", "Basic YWRtaW46eA==", "Bearer " + "x" * 5000):
        assert anonymous.get("/api/v1/tasks", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize("action", ["run", "pause"])
def test_a_change_without_csrf_token_is_refused_and_changes_nothing(
    operator: tuple[TestClient, str], web_store: Store, action: str
) -> None:
    client, _ = operator
    add_task(web_store, "nightly")
    form = client.post(f"/tasks/nightly/{action}", data={"next": "/"}, follow_redirects=False)
    api = client.post(f"/api/v1/tasks/nightly/{action}")
    wrong = client.post(f"/api/v1/tasks/nightly/{action}", headers={"X-CSRF-Token": "not-the-token"})
    assert (form.status_code, api.status_code, wrong.status_code) == (403, 403, 403)
    assert web_store.executions.count() == 0
    assert not web_store.tasks.get("nightly").paused


def test_a_change_from_a_foreign_origin_is_refused_even_with_the_token(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    add_task(web_store, "nightly")
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        answer = client.post("/api/v1/tasks/nightly/pause", headers={"X-CSRF-Token": csrf, **headers})
        assert answer.status_code == 403
        assert "cross-origin" in answer.json()["detail"]
    assert not web_store.tasks.get("nightly").paused


def test_a_change_from_our_origin_with_the_token_works(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    add_task(web_store, "nightly")
    answer = client.post(
        "/tasks/nightly/pause",
        data={"csrf_token": csrf, "next": "/tasks/nightly"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tasks/nightly"
    assert web_store.tasks.get("nightly").paused


def test_a_viewer_cannot_run_pause_or_acknowledge(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = viewer
    add_task(web_store, "nightly")
    for path in ("/api/v1/tasks/nightly/run", "/api/v1/tasks/nightly/pause", "/api/v1/alerts/1/ack"):
        answer = client.post(path, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 403, path
        assert "operator" in answer.json()["detail"]
    page = client.post("/tasks/nightly/run", data={"csrf_token": csrf}, follow_redirects=False)
    assert page.status_code == 403
    assert web_store.executions.count() == 0
    assert "Run now" not in client.get("/").text


def test_only_admins_read_the_audit_log_and_users(
    operator: tuple[TestClient, str], admin: tuple[TestClient, str]
) -> None:
    assert operator[0].get("/audit").status_code == 403
    assert operator[0].get("/users").status_code == 403
    assert admin[0].get("/audit").status_code == 200
    assert "user.add" in admin[0].get("/audit").text


def test_pages_send_a_strict_content_security_policy(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    answer = client.get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in answer.text  # no inline script anywhere on the page
    assert re.search(r"<script(?![^>]*\bsrc=)", answer.text) is None


def test_the_session_cookie_is_httponly_and_samesite(anonymous: TestClient) -> None:
    answer = anonymous.get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>\x1b[31mred\x1b[0m\x1b]0;title\x07'


def _hostile_run(store: Store, log_dir: Path) -> tuple[int, int]:
    task_id = add_task(store, "hostile", description=HOSTILE, category="xss")
    [run] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n", token="tok", now=NOW)
    store.executions.begin([run.id], node="n", token="tok", now=NOW, lease_until=NOW)
    outcome = Outcome(status=ExecutionStatus.FAILED, finished_at=NOW, exit_code=1, output=HOSTILE)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="tok")
    (log_dir / "tasks").mkdir(parents=True, exist_ok=True)
    (log_dir / "tasks" / "xss_hostile.log").write_text(
        f"=== 2026-03-01T12:00:00+00:00 hostile execution {run.id} attempt 0 (schedule) ===\n{HOSTILE}\n"
    )
    return task_id, run.id


def test_task_output_and_descriptions_render_as_inert_text(
    viewer: tuple[TestClient, str], web_store: Store, log_dir: Path
) -> None:
    client, _ = viewer
    _, run_id = _hostile_run(web_store, log_dir)
    for path in ("/", "/executions", f"/executions/{run_id}", f"/partials/executions/{run_id}/log", "/tasks/hostile"):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "\x1b" not in html, path
        assert "&lt;script&gt;" in html, path
    assert "red" in client.get(f"/executions/{run_id}").text


def test_no_request_reads_a_file_outside_the_log_directory(
    viewer: tuple[TestClient, str], web_store: Store, log_dir: Path
) -> None:
    client, _ = viewer
    _hostile_run(web_store, log_dir)
    attempts = [
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "1/../../../../etc/passwd",
        "1%00",
        "-1",
        "0",
        "99999999999999999999999",
    ]
    for attempt in attempts:
        for prefix in ("/api/v1/executions/", "/executions/", "/partials/executions/"):
            answer = client.get(f"{prefix}{attempt}/log")
            assert answer.status_code in (404, 422), (prefix, attempt, answer.status_code)
            assert "root:" not in answer.text


def test_a_task_whose_category_points_outside_the_logs_reads_nothing(
    viewer: tuple[TestClient, str], web_store: Store, log_dir: Path, tmp_path: Path
) -> None:
    client, _ = viewer
    secret = tmp_path / "secret_x.log"
    secret.write_text("=== 2026 x execution 1 attempt 0 ===\nTOP SECRET\n")
    task_id = add_task(
        web_store, "x", category="../../../" + str(tmp_path.relative_to("/")).replace("/", "/") + "/secret"
    )
    run_id = web_store.executions.enqueue(task_id, scheduled_for=NOW)
    answer = client.get(f"/api/v1/executions/{run_id}/log")
    assert answer.status_code == 200
    assert answer.json()["found"] is False
    assert "TOP SECRET" not in answer.text
