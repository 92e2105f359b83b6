"""The Runs page's filters, a task's settings shown as written, and the site's icon."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from smartcron.clock import SystemClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.web.conftest import NOW, add_task


def _finished(store: Store, task_id: int, status: ExecutionStatus, *, minute: int) -> int:
    at = NOW.replace(minute=minute)
    [run] = store.executions.claim([SlotClaim(task_id, at, Trigger.SCHEDULE)], node="n", token="tok", now=at)
    store.executions.begin([run.id], node="n", token="tok", now=at, lease_until=at)
    store.executions.finish([Finish(run.id, task_id, Outcome(status=status, finished_at=at))], token="tok")
    return run.id


def _run_ids(html: str) -> set[int]:
    return {int(found) for found in re.findall(r'<tr data-execution="(\d+)"', html)}


def test_the_runs_filter_form_with_status_any_lists_every_status(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "bank_import")
    ok = _finished(web_store, task_id, ExecutionStatus.SUCCESS, minute=1)
    bad = _finished(web_store, task_id, ExecutionStatus.FAILED, minute=2)
    for path in ("/executions?task=&status=", "/partials/executions?task=&status="):
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        assert _run_ids(answer.text) == {ok, bad}
    failed_only = client.get("/executions?task=&status=failed")
    assert _run_ids(failed_only.text) == {bad}
    assert '<option value="failed" selected>' in failed_only.text


def test_an_unknown_status_is_one_clear_line(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    answer = client.get("/executions?status=sleepy")
    assert answer.status_code == 422
    assert "status &#39;sleepy&#39;: expected one of scheduled, running" in answer.text


def test_the_task_filter_matches_part_of_a_name_in_any_case(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    demo_a = _finished(web_store, add_task(web_store, "demo_backup"), ExecutionStatus.SUCCESS, minute=1)
    demo_b = _finished(web_store, add_task(web_store, "nightly_DEMO"), ExecutionStatus.FAILED, minute=2)
    other = _finished(web_store, add_task(web_store, "payroll"), ExecutionStatus.SUCCESS, minute=3)
    answer = client.get("/executions?task=demo")
    assert answer.status_code == 200
    assert _run_ids(answer.text) == {demo_a, demo_b}
    assert _run_ids(client.get("/executions?task=Demo&status=failed").text) == {demo_b}
    assert _run_ids(client.get("/partials/executions?task=ROLL").text) == {other}
    assert _run_ids(client.get("/executions?task=payroll").text) == {other}  # the exact name still works
    # LIKE wildcards in the text are plain characters
    assert _run_ids(client.get("/executions?task=%25").text) == set()
    assert _run_ids(client.get("/executions?task=de_o").text) == set()
    assert "No runs yet." in client.get("/executions?task=nothing-like-this").text


def test_a_task_page_shows_its_command_as_written_not_as_json_escapes(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    spec = TaskSpec(name="bank", command=("echo cannot reach the bank >&2",), shell=True, schedule="0 1 * * *")
    web_store.tasks.add(spec, now=NOW, next_run_at=NOW)
    argv = TaskSpec(name="argv", command=("php", "/srv/jobs/it's.php", "--to", "<all>"), schedule="0 1 * * *")
    web_store.tasks.add(argv, now=NOW, next_run_at=NOW)
    html = client.get("/tasks/bank").text
    assert "<code>echo cannot reach the bank &gt;&amp;2</code>" in html
    assert "\\u003e" not in html and "\\u0026" not in html
    html = client.get("/tasks/argv").text
    assert "<code>php &#39;/srv/jobs/it&#39;&#34;&#39;&#34;&#39;s.php&#39; --to &#39;&lt;all&gt;&#39;</code>" in html


def test_the_favicon_is_served_to_anyone(anonymous: TestClient) -> None:
    answer = anonymous.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg ")
    assert '<link rel="icon" href="/favicon.ico"' in anonymous.get("/login").text


def test_runs_filtered_by_trigger_and_time_range_keep_both_in_the_form_and_the_live_refresh(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    task_id = add_task(web_store, "bank_import")
    now = SystemClock().now().replace(microsecond=0)
    old, recent = now - timedelta(days=3), now - timedelta(minutes=10)
    claims = [SlotClaim(task_id, old, Trigger.SCHEDULE), SlotClaim(task_id, recent, Trigger.SCHEDULE)]
    claims.append(SlotClaim(task_id, now, Trigger.MANUAL))
    by_slot = {run.scheduled_for: run.id for run in web_store.executions.claim(claims, node="n", token="t", now=now)}
    manual = by_slot.pop(now)
    for task in ("", "bank_import", "bank"):  # all tasks, one task by its name, part of a name
        page = client.get(f"/executions?task={task}&trigger=schedule&within=24h")
        assert page.status_code == 200 and _run_ids(page.text) == {by_slot[recent]}, task
        assert _run_ids(client.get(f"/executions?task={task}&trigger=manual").text) == {manual}
        assert _run_ids(client.get(f"/executions?task={task}&trigger=&within=").text) == {*by_slot.values(), manual}
    page = client.get("/executions?trigger=schedule&within=24h").text
    live = re.search(r'hx-get="(/partials/executions\?[^"]*)"', page)
    assert live and "trigger=schedule" in live.group(1) and "within=24h" in live.group(1)
    assert '<option value="schedule" selected>' in page and '<option value="24h" selected>' in page
    for bad, message in (("trigger=sometimes", "trigger &#39;sometimes&#39;: expected one of schedule"),
                         ("within=5y", "within &#39;5y&#39;: expected one of 1h, 24h, 7d, 30d")):  # fmt: skip
        answer = client.get(f"/executions?{bad}")
        assert answer.status_code == 422 and message in answer.text
