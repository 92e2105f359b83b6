"""The JSON API and the pages show what the store holds and change it through the services."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from smartcron.domain.enums import ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.conftest import utc
from tests.web.conftest import NOW, add_task


def _finished_run(store: Store, task_id: int, when_minute: int, status: ExecutionStatus, output: str = "") -> int:
    slot = utc(2026, 3, 1, 11, when_minute)
    [run] = store.executions.claim([SlotClaim(task_id, slot, Trigger.SCHEDULE)], node="n", token="t", now=slot)
    store.executions.begin([run.id], node="n", token="t", now=slot, lease_until=slot)
    outcome = Outcome(
        status=status,
        finished_at=slot,
        exit_code=0 if status is ExecutionStatus.SUCCESS else 1,
        duration_ms=1500,
        output=output,
    )
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    return run.id


def test_run_now_queues_a_manual_run_and_records_who_asked(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    add_task(web_store, "nightly")
    answer = client.post("/api/v1/tasks/nightly/run", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 202
    run = web_store.executions.get(answer.json()["execution_id"])
    assert (run.task_name, run.status, run.trigger) == ("nightly", ExecutionStatus.SCHEDULED, Trigger.MANUAL)
    assert web_store.audit.list(limit=1)[0].actor == "web:operator"
    listed = client.get("/api/v1/executions", params={"task": "nightly"}).json()
    assert [item["status"] for item in listed["items"]] == ["scheduled"]
    page = client.get("/executions")
    assert f'data-execution="{run.id}"' in page.text


def test_pause_and_resume_go_through_the_registry(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    add_task(web_store, "nightly")
    paused = client.post("/api/v1/tasks/nightly/pause", headers={"X-CSRF-Token": csrf}).json()
    assert paused == {"task": "nightly", "paused": True, "next_run_at": None}
    resumed = client.post("/api/v1/tasks/nightly/resume", headers={"X-CSRF-Token": csrf}).json()
    assert resumed["paused"] is False and resumed["next_run_at"] is not None
    actions = [entry.action for entry in web_store.audit.list(limit=2)]
    assert actions == ["task.resume", "task.pause"]


def test_unknown_task_is_404_with_a_json_detail(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    for path in ("/api/v1/tasks/nope", "/api/v1/executions?task=nope", "/api/v1/executions/12345"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert set(answer.json()) == {"detail"}


def test_bad_parameters_are_422_with_a_one_line_detail(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    answer = client.get("/api/v1/executions", params={"status": "exploded", "limit": 0})
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)
    assert "status" in answer.json()["detail"]


def test_task_list_shows_the_success_rate_of_the_last_seven_days(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "nightly")
    for minute, status in enumerate([ExecutionStatus.SUCCESS] * 3 + [ExecutionStatus.FAILED]):
        _finished_run(web_store, task_id, minute, status)
    items = {item["name"]: item for item in client.get("/api/v1/tasks").json()["items"]}
    # The clock of the app is the real one; the runs above are in 2026-03, so pin "now" by query.
    assert items["nightly"]["last_status"] == "failed"
    detail = client.get("/api/v1/tasks/nightly").json()
    assert detail["spec"]["schedule"] == "*/5 * * * *"
    assert len(detail["next_runs"]) == 10


def test_executions_page_back_by_id(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "nightly")
    ids = [_finished_run(web_store, task_id, minute, ExecutionStatus.SUCCESS) for minute in range(5)]
    first = client.get("/api/v1/executions", params={"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == ids[:-3:-1]
    second = client.get("/api/v1/executions", params={"limit": 2, "before": first["next_before"]}).json()
    assert [item["id"] for item in second["items"]] == [ids[2], ids[1]]


def test_a_runs_log_is_read_from_its_task_log_between_headers(
    viewer: tuple[TestClient, str], web_store: Store, log_dir: Path
) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "nightly", category="bank")
    first = _finished_run(web_store, task_id, 0, ExecutionStatus.SUCCESS, output="tail one")
    second = _finished_run(web_store, task_id, 1, ExecutionStatus.FAILED, output="tail two")
    (log_dir / "tasks").mkdir(parents=True, exist_ok=True)
    (log_dir / "tasks" / "bank_nightly.log").write_text(
        f"=== 2026-03-01T11:00:00+00:00 nightly execution {first} attempt 0 (schedule) ===\nline A\n"
        f"=== 2026-03-01T11:01:00+00:00 nightly execution {second} attempt 0 (schedule) ===\nline B\n"
    )
    text = client.get(f"/api/v1/executions/{first}/log").json()["text"]
    assert "line A" in text and "line B" not in text
    assert "line B" in client.get(f"/partials/executions/{second}/log").text


def test_a_line_of_output_that_looks_like_a_header_does_not_end_the_runs_log(
    viewer: tuple[TestClient, str], web_store: Store, log_dir: Path
) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "report", category="bank")
    run = _finished_run(web_store, task_id, 0, ExecutionStatus.SUCCESS, output="tail")
    (log_dir / "tasks").mkdir(parents=True, exist_ok=True)
    (log_dir / "tasks" / "bank_report.log").write_text(
        f"=== 2026-03-01T11:00:00+00:00 report execution {run} attempt 0 (schedule) ===\n"
        "=== execution summary ===\nrows: 12\n"
    )

    answer = client.get(f"/api/v1/executions/{run}/log").json()

    assert answer["found"] is True
    assert answer["text"] == "=== execution summary ===\nrows: 12\n"


def test_a_run_without_a_log_entry_shows_its_stored_tail(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "nightly")
    run = _finished_run(web_store, task_id, 0, ExecutionStatus.SUCCESS, output="only the tail")
    assert client.get(f"/api/v1/executions/{run}/log").json()["found"] is False
    assert "only the tail" in client.get(f"/executions/{run}").text


def test_operators_acknowledge_alerts_and_the_page_shows_severity(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    task_id = add_task(web_store, "nightly")
    alert, _ = web_store.alerts.raise_or_repeat(
        "task_failed",
        task_id=task_id,
        severity=Severity.CRITICAL,
        message="nightly failed",
        now=NOW,
        notify_after=None,
    )
    page = client.get("/alerts").text
    assert "sev-critical" in page and "nightly failed" in page
    answer = client.post(f"/api/v1/alerts/{alert.id}/ack", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json()["state"] == "acknowledged"
    assert answer.json()["acknowledged_by"] == "web:operator"


def test_admins_add_and_remove_custom_rules(admin: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = admin
    form = {"csrf_token": csrf, "name": "slow-sync", "kind": "long_run", "threshold": "600", "severity": "high"}
    assert client.post("/alerts/rules", data=form, follow_redirects=False).status_code == 303
    assert [rule.name for rule in web_store.alert_rules.list()] == ["slow-sync"]
    assert "slow-sync" in client.get("/alerts").text
    answer = client.post("/alerts/rules/slow-sync/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert web_store.alert_rules.list() == []


def test_activity_buckets_count_runs_and_failures(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    answer = client.get("/api/v1/stats/activity", params={"hours": 1, "bucket": 60})
    assert answer.status_code == 200
    assert len(answer.json()["buckets"]) in (60, 61)


def test_metrics_are_prometheus_text_with_run_counts(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "nightly")
    _finished_run(web_store, task_id, 0, ExecutionStatus.SUCCESS)
    first = client.get("/metrics")
    assert first.headers["content-type"].startswith("text/plain")
    assert 'smartcron_runs_total{status="success",task="nightly"} 1.0' in first.text
    _finished_run(web_store, task_id, 1, ExecutionStatus.FAILED)
    second = client.get("/metrics").text
    assert 'smartcron_runs_total{status="failed",task="nightly"} 1.0' in second
    assert 'smartcron_runs_total{status="success",task="nightly"} 1.0' in second
    assert "smartcron_open_alerts" in second and "smartcron_running_runs 0.0" in second


def test_the_health_page_shows_each_runners_tags(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    web_store.nodes.beat("app1", "runner", now=NOW, info={"active": True, "tags": ["gpu", "<b>vpn</b>"]})

    html = client.get("/partials/health").text

    assert '<span class="badge muted">gpu</span>' in html
    assert "&lt;b&gt;vpn&lt;/b&gt;" in html and "<b>vpn" not in html


def test_every_page_renders_for_an_admin(admin: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = admin
    add_task(web_store, "nightly")
    for path in (
        "/",
        "/executions",
        "/health",
        "/alerts",
        "/charts",
        "/audit",
        "/users",
        "/tasks/nightly",
        "/api/docs",
        "/partials/grid",
        "/partials/health",
        "/partials/alerts",
        "/partials/tasks/nightly",
    ):
        assert client.get(path).status_code == 200, path


def test_admins_edit_a_task_and_bad_values_are_refused_with_the_field_named(
    admin: tuple[TestClient, str], operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = admin
    add_task(web_store, "nightly")
    edited = client.patch(
        "/api/v1/tasks/nightly", json={"schedule": "0 3 * * *", "timeout": 60}, headers={"X-CSRF-Token": csrf}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["schedule"] == "0 3 * * *"
    assert web_store.tasks.get("nightly").spec.timeout == 60
    bad = client.patch("/api/v1/tasks/nightly", json={"schedule": "0 0 30 2 *"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422
    assert "schedule" in bad.json()["detail"]
    refused = operator[0].patch("/api/v1/tasks/nightly", json={"timeout": 5}, headers={"X-CSRF-Token": operator[1]})
    assert refused.status_code == 403
    form = {
        "csrf_token": csrf,
        "description": "nightly <b>sync</b>",
        "schedule": "0 4 * * *",
        "timeout": "90",
        "priority": "1",
        "retries": "0",
        "timezone": "",
        "enabled": "on",
    }
    assert client.post("/tasks/nightly/edit", data=form, follow_redirects=False).status_code == 303
    spec = web_store.tasks.get("nightly").spec
    assert (spec.schedule, spec.timeout, spec.priority, spec.retries) == ("0 4 * * *", 90, 1, 0)
    assert web_store.audit.list(limit=1)[0].action == "task.edit"


def test_a_peak_known_only_as_a_bound_is_given_as_one(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "tiny")
    [run] = web_store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n", token="t", now=NOW)
    web_store.executions.begin([run.id], node="n", token="t", now=NOW, lease_until=NOW)
    outcome = Outcome(status=ExecutionStatus.SUCCESS, finished_at=NOW, exit_code=0, max_rss_kb_below=11_264)
    web_store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    body = client.get(f"/api/v1/executions/{run.id}").json()
    assert (body["max_rss_kb"], body["max_rss_kb_below"]) == (None, 11_264)
    assert "below 11.0 MiB" in client.get(f"/executions/{run.id}").text
