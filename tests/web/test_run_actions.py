"""Cancel, Run again and Retry on a run's page, and cancel in the JSON API: who may, what the
row becomes (also under a real runner), what the audit log says."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.clock import FakeClock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Role, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.accounts import Accounts
from tests.runner.runner_support import add_task as add_runner_task
from tests.runner.runner_support import running_engine, runs_of, settle
from tests.web.conftest import NOW, add_task

HTMX = {"HX-Request": "true"}


def _running(store: Store, name: str = "payroll") -> int:
    task_id = add_task(store, name)
    [row] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n1", token="tok", now=NOW)
    store.executions.begin([row.id], node="n1", token="tok", now=NOW, lease_until=NOW)
    return row.id


def _ended(store: Store, execution_id: int, status: ExecutionStatus) -> None:
    row = store.executions.get(execution_id)
    outcome = Outcome(status=status, finished_at=NOW, exit_code=1)
    store.executions.finish([Finish(execution_id, row.task_id, outcome)], token="tok")


def test_an_operator_cancels_a_queued_run_at_once_and_the_audit_log_says_who(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    queued = web_store.executions.enqueue(add_task(web_store, "payroll"), scheduled_for=NOW)
    answer = client.post(f"/executions/{queued}/cancel", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/executions/{queued}")
    row = web_store.executions.get(queued)
    assert (row.status, row.reason) == (ExecutionStatus.CANCELLED, "cancelled by web:operator")
    page = client.get(f"/executions/{queued}").text
    assert f"Cancelled run {queued} of payroll before it started." in page
    assert 'data-status="cancelled"' in page and 'data-action="cancel"' not in page
    entry = web_store.audit.list(limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == ("web:operator", "execution.cancel", "payroll")
    assert entry.details == {"execution_id": queued, "was": "scheduled"}


def test_cancel_from_the_page_marks_a_running_run_and_answers_its_new_state(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    run_id = _running(web_store)
    page = client.get(f"/executions/{run_id}").text
    assert f'hx-post="/executions/{run_id}/cancel"' in page and f'hx-confirm="Cancel run #{run_id} of payroll?' in page
    answer = client.post(f"/executions/{run_id}/cancel", headers=HTMX | {"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert "Asked the runner on n1 to stop run" in answer.text
    assert "Cancel requested by web:operator" in answer.text and 'data-action="cancel"' not in answer.text
    row = web_store.executions.get(run_id)
    assert (row.status, row.cancel_requested_by) == (ExecutionStatus.RUNNING, "web:operator")


def test_a_viewer_may_not_cancel_and_a_cancel_without_the_csrf_token_is_refused(
    viewer: tuple[TestClient, str], operator: tuple[TestClient, str], web_store: Store
) -> None:
    viewer_client, viewer_csrf = viewer
    operator_client, _ = operator
    run_id = _running(web_store)
    refused = viewer_client.post(f"/executions/{run_id}/cancel", data={"csrf_token": viewer_csrf})
    assert refused.status_code == 403 and "this needs the operator role" in refused.text
    assert operator_client.post(f"/executions/{run_id}/cancel", data={}).status_code == 403
    assert operator_client.post(f"/executions/{run_id}/cancel", data={"csrf_token": "forged"}).status_code == 403
    assert web_store.executions.get(run_id).cancel_requested_at is None
    assert [e.action for e in web_store.audit.list(limit=5) if e.action == "execution.cancel"] == []


def test_cancelling_a_run_that_ended_says_so(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    run_id = _running(web_store)
    _ended(web_store, run_id, ExecutionStatus.SUCCESS)
    answer = client.post(f"/executions/{run_id}/cancel", data={"csrf_token": csrf})
    assert answer.status_code == 409 and f"execution {run_id} has already ended (success)" in answer.text
    fragment = client.post(f"/executions/{run_id}/cancel", headers=HTMX | {"X-CSRF-Token": csrf})
    assert fragment.status_code == 200 and f"Execution {run_id} has already ended (success)." in fragment.text
    assert 'data-status="success"' in fragment.text


def test_retry_of_a_failed_run_queues_a_manual_run_and_the_message_links_to_it(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    run_id = _running(web_store)
    _ended(web_store, run_id, ExecutionStatus.FAILED)
    page = client.get(f"/executions/{run_id}").text
    assert 'data-action="retry"' in page and 'data-action="run-again"' not in page
    answer = client.post(f"/executions/{run_id}/rerun", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.headers["location"] == f"/executions/{run_id}"
    [new] = [r for r in web_store.executions.list(limit=5) if r.id != run_id]
    assert (new.trigger, new.status, new.task_name) == (Trigger.MANUAL, ExecutionStatus.SCHEDULED, "payroll")
    page = client.get(f"/executions/{run_id}").text
    assert f"Retry of run #{run_id}: queued a manual run of payroll (#{new.id})" in page
    assert f'<a href="/executions/{new.id}">open run #{new.id}</a>' in page
    entry = web_store.audit.list(limit=1)[0]
    assert (entry.action, entry.details) == ("task.run", {"execution_id": new.id, "again_of": run_id})


def test_run_again_on_a_running_run_queues_another(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    run_id = _running(web_store)
    client.post(f"/executions/{run_id}/rerun", data={"csrf_token": csrf}, follow_redirects=False)
    [new] = [r for r in web_store.executions.list(limit=5) if r.id != run_id]
    page = client.get(f"/executions/{run_id}").text
    assert f"Queued another run of payroll (#{new.id}); it starts when the task&#39;s current run has ended." in page
    assert 'data-action="run-again"' in page
    assert 'data-action="retry"' not in page


def test_a_successful_run_offers_no_retry_and_a_viewer_sees_no_buttons(
    operator: tuple[TestClient, str], viewer: tuple[TestClient, str], web_store: Store
) -> None:
    run_id = _running(web_store)
    viewer_page = viewer[0].get(f"/executions/{run_id}").text
    assert "data-action=" not in viewer_page.split('id="run-state"')[1].split("</section>")[0]
    _ended(web_store, run_id, ExecutionStatus.SUCCESS)
    page = operator[0].get(f"/executions/{run_id}").text
    assert 'data-action="retry"' not in page and 'data-action="cancel"' not in page


def test_the_api_cancels_with_a_token_404_for_no_such_run_409_once_ended(app: FastAPI, web_store: Store) -> None:
    accounts = Accounts(web_store, actor="test")
    operator, _ = accounts.create_token("deploy", role=Role.OPERATOR, now=NOW)
    viewer, _ = accounts.create_token("grafana", role=Role.VIEWER, now=NOW)
    queued = web_store.executions.enqueue(add_task(web_store, "payroll"), scheduled_for=NOW)
    with TestClient(app) as client:
        as_viewer = client.post(f"/api/v1/executions/{queued}/cancel", headers={"Authorization": f"Bearer {viewer}"})
        assert as_viewer.status_code == 403
        headers = {"Authorization": f"Bearer {operator}"}
        missing = client.post("/api/v1/executions/4242/cancel", headers=headers)
        assert (missing.status_code, missing.json()) == (404, {"detail": "no execution with id 4242"})
        done = client.post(f"/api/v1/executions/{queued}/cancel", headers=headers)
        assert done.status_code == 200
        assert (done.json()["status"], done.json()["reason"]) == ("cancelled", "cancelled by web:token:deploy")
        again = client.post(f"/api/v1/executions/{queued}/cancel", headers=headers)
        assert again.status_code == 409
        assert again.json() == {"detail": f"execution {queued} has already ended (cancelled)"}


def test_a_cancel_through_the_api_ends_a_run_a_real_runner_is_running(
    app: FastAPI, settings: Settings, web_store: Store
) -> None:
    clock = FakeClock(NOW)
    task = add_runner_task(web_store, "long", ("sleep", "300"), next_run_at=NOW, kill_grace=1)
    token, _ = Accounts(web_store, actor="test").create_token("deploy", role=Role.OPERATOR, now=NOW)
    with running_engine(settings, web_store, clock) as engine, TestClient(app) as client:
        engine.run_pass(clock.now())
        [run] = runs_of(web_store, task)
        assert run.status is ExecutionStatus.RUNNING
        answer = client.post(f"/api/v1/executions/{run.id}/cancel", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["cancel_requested_by"]) == ("running", "web:token:deploy")
        engine.lease_keeper.renew(clock.now())
        settle(engine)
    after = web_store.executions.get(run.id)
    assert (after.status, after.reason) == (ExecutionStatus.CANCELLED, "cancelled by web:token:deploy")
    assert web_store.audit.list(limit=1)[0].details == {"execution_id": run.id, "was": "running"}
