"""Run now, Pause and Resume sent by htmx are answered in place: the task's new grid row (or the
task page's action bar) and the message as an HX-Trigger event; without htmx, a flash and a 303
back. Either way the role and the CSRF token are checked as before."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from smartcron.store import Store
from tests.web.conftest import add_task


def _htmx(csrf: str, target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target, "X-CSRF-Token": csrf}


def test_run_now_from_the_grid_answers_the_new_row_and_a_message_linking_the_run(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    task_id = add_task(web_store, "payroll")
    answer = client.post(
        "/tasks/payroll/run", headers=_htmx(csrf, f"task-row-{task_id}"), data={"next": "/?status=failing&q=pay"}
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith(f'<tr data-task="payroll" id="task-row-{task_id}">')
    assert 'name="next" value="/?status=failing&amp;q=pay"' in answer.text  # the row's forms keep the filter
    [run] = web_store.executions.list(task_id=task_id, limit=1)
    event = json.loads(answer.headers["HX-Trigger"])["smartcron:flash"]
    assert event == {
        "message": f"Queued a run of payroll (#{run.id}); the runner starts it within a second.",
        "error": False,
        "href": f"/executions/{run.id}",
        "text": f"open run #{run.id}",
    }


def test_pause_from_the_task_page_answers_its_action_bar(operator: tuple[TestClient, str], web_store: Store) -> None:
    client, csrf = operator
    add_task(web_store, "payroll")
    answer = client.post("/tasks/payroll/pause", headers=_htmx(csrf, "task-actions"), data={"next": "/tasks/payroll"})
    assert answer.status_code == 200 and '<p class="actions" id="task-actions">' in answer.text
    assert 'aria-label="Resume payroll"' in answer.text
    assert json.loads(answer.headers["HX-Trigger"])["smartcron:flash"]["message"] == "Paused payroll."
    assert web_store.tasks.get("payroll").paused


def test_without_htmx_an_action_still_redirects_back_with_a_flash(
    operator: tuple[TestClient, str], web_store: Store
) -> None:
    client, csrf = operator
    add_task(web_store, "payroll")
    answer = client.post(
        "/tasks/payroll/pause", data={"csrf_token": csrf, "next": "/?status=paused"}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/?status=paused")
    assert "Paused payroll." in client.get("/?status=paused").text


def test_an_in_place_action_without_the_csrf_token_or_the_role_changes_nothing_and_says_why(
    operator: tuple[TestClient, str], viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = operator
    task_id = add_task(web_store, "payroll")
    answer = client.post("/tasks/payroll/pause", headers={"HX-Request": "true", "HX-Target": f"task-row-{task_id}"})
    assert answer.status_code == 403
    assert "CSRF" in json.loads(answer.headers["HX-Trigger"])["smartcron:flash"]["message"]
    viewer_client, viewer_csrf = viewer
    answer = viewer_client.post("/tasks/payroll/pause", headers=_htmx(viewer_csrf, f"task-row-{task_id}"))
    assert answer.status_code == 403 and json.loads(answer.headers["HX-Trigger"])["smartcron:flash"]["error"] is True
    assert not web_store.tasks.get("payroll").paused
