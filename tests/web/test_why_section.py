"""The "Why / last 24 hours" section of a task's page: what ``smartcron why`` says, escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from smartcron.config import Settings
from smartcron.domain.task import TaskSpec
from smartcron.registry.service import Registry
from smartcron.store import Store
from tests.services.why_support import ran


def test_the_task_page_explains_each_slot_of_the_last_day(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    slot = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    spec = TaskSpec(name="report", command=("true",), schedule=f"{slot.minute} {slot.hour} * * *", timezone="UTC")
    task = web_store.tasks.add(spec, now=slot - timedelta(days=2), next_run_at=slot + timedelta(days=1))
    [row] = ran(web_store, task, [slot], seconds=3)
    page = client.get("/tasks/report")
    assert page.status_code == 200
    assert "<h2>Why / last 24 hours</h2>" in page.text
    assert f'<td>{slot:%Y-%m-%d %H:%M} UTC</td><td><span class="badge ok">ran</span></td>' in page.text
    assert f"<td>#{row.id} on node-a: success in 3 s</td>" in page.text
    assert f'<a href="/executions/{row.id}">#{row.id}</a>' in page.text


def test_who_paused_a_task_is_shown_escaped(
    viewer: tuple[TestClient, str], web_store: Store, settings: Settings
) -> None:
    client, _ = viewer
    now = datetime.now(UTC)
    spec = TaskSpec(name="report", command=("true",), schedule="0 * * * *", timezone="UTC")
    web_store.tasks.add(spec, now=now - timedelta(hours=5), next_run_at=now - timedelta(hours=4))
    Registry(web_store, settings, actor="cli:<b>mallory</b>").pause("report", now=now - timedelta(hours=4, minutes=30))
    page = client.get("/tasks/report")
    assert "paused by cli:&lt;b&gt;mallory&lt;/b&gt; at" in page.text
    assert "<b>mallory</b>" not in page.text
    assert '<span class="badge muted">paused</span>' in page.text
