"""The nodes page, ``/api/v1/nodes`` and ``smartcron nodes``: the same runners in the same states,
and a drain through any door is the same request, audited the same way, for admins only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.cli.tasks import cli_actor
from smartcron.domain.enums import Role, Trigger
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from smartcron.web.accounts import Accounts
from tests.web.conftest import NOW


def _token(store: Store, role: Role) -> dict[str, str]:
    secret, _ = Accounts(store, actor="test").create_token(f"{role.value}-script", role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def cluster(web_store: Store) -> Store:
    """app1 active with a skewed clock, app2 lost while holding a run, old stopped."""
    now = web_store.database_now()
    info = {"active": True, "tags": ["gpu"], "lease_seconds": 5, "clock_offset_ms": 3400, "host": "app1"}
    web_store.nodes.beat("app1", "runner", now=now, pid=11, version="0.1.0", info=info)
    web_store.nodes.beat("app2", "runner", now=now - timedelta(minutes=3), pid=12, version="0.1.0",
                         info={"active": True, "lease_seconds": 5})  # fmt: skip
    web_store.nodes.beat("old", "runner", now=now - timedelta(days=1), info={"active": False})
    spec = TaskSpec(name="held", command=("true",), schedule="0 0 1 1 *")
    task = web_store.tasks.add(spec, now=now, next_run_at=now)
    [row] = web_store.executions.claim([SlotClaim(task.id, now, Trigger.SCHEDULE)], node="app2", token="c", now=now)
    web_store.executions.begin([row.id], node="app2", token="t", now=now, lease_until=now + timedelta(seconds=30))
    return web_store


def test_the_api_lists_the_same_nodes_as_the_cli(cluster: Store, viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    answer = client.get("/api/v1/nodes")
    assert answer.status_code == 200, answer.text
    by_api = {node["name"]: node for node in answer.json()}
    code, out = _cli("nodes", "--json")
    assert code == 0, out
    by_cli = {node["name"]: node for node in json.loads(out)}
    assert {name: node["state"] for name, node in by_api.items()} == {
        "app1": "active",
        "app2": "lost",
        "old": "stopped",
    }
    assert (by_api["app1"]["tags"], by_api["app1"]["clock_offset_ms"], by_api["app1"]["skewed"]) == (
        ["gpu"],
        3400,
        True,
    )
    assert (by_api["app2"]["running"], by_api["app2"]["lease_expires_at"] is not None) == (1, True)
    keep = ("state", "tags", "version", "running", "clock_offset_ms", "skewed", "drain_requested_by")
    assert {n: {k: v[k] for k in keep} for n, v in by_api.items()} == {
        n: {k: v[k] for k in keep} for n, v in by_cli.items()
    }


def test_the_nodes_page_shows_state_tags_version_clock_running_and_lease(
    cluster: Store, viewer: tuple[TestClient, str]
) -> None:
    client, _ = viewer
    page = client.get("/nodes")
    assert page.status_code == 200
    html = page.text
    for heading in ("Node", "State", "Tags", "Version", "Heartbeat", "Clock offset", "Running", "Lease until"):
        assert f"<th>{heading}</th>" in html
    assert '<tr data-node="app1">' in html and ">gpu<" in html and "0.1.0" in html
    assert "+3.4 s" in html and "fix NTP" in html
    assert ">lost<" in html and ">stopped<" in html
    assert "/nodes/app1/drain" not in html, "a viewer sees no Drain button"
    assert client.get("/partials/nodes").text.count("<tr data-node=") == 3


def test_only_live_nodes_get_a_drain_button_for_admins(cluster: Store, admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    html = client.get("/nodes").text
    assert 'action="/nodes/app1/drain"' in html
    assert "/nodes/app2/drain" not in html and "/nodes/old/drain" not in html


def _drain_by_cli(client: TestClient, csrf: str, store: Store) -> str:
    code, out = _cli("nodes", "drain", "app1")
    assert code == 0, out
    return cli_actor()


def _drain_by_api(client: TestClient, csrf: str, store: Store) -> str:
    answer = client.post("/api/v1/nodes/app1/drain", headers=_token(store, Role.ADMIN))
    assert answer.status_code == 202, answer.text
    assert answer.json()["message"] == "asked app1 to drain: it claims nothing more, finishes what runs, then stops"
    return "web:token:admin-script"


def _drain_by_page(client: TestClient, csrf: str, store: Store) -> str:
    answer = client.post("/nodes/app1/drain", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/nodes")
    assert "Asked app1 to drain" in client.get("/nodes").text
    return "web:admin"


@pytest.mark.parametrize("door", [_drain_by_cli, _drain_by_api, _drain_by_page], ids=["cli", "api", "dashboard"])
def test_a_drain_through_any_door_is_the_same_request_and_audit_entry(
    cluster: Store, admin: tuple[TestClient, str], door: Callable[[TestClient, str, Store], str]
) -> None:
    client, csrf = admin
    actor = door(client, csrf, cluster)
    beat = cluster.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_at is not None
    assert beat.drain_requested_by == actor
    [entry] = [e for e in cluster.audit.list() if e.action == "node.drain"]
    assert (entry.actor, entry.target, entry.details) == (actor, "app1", None)
    [node] = [n for n in client.get("/api/v1/nodes").json() if n["name"] == "app1"]
    assert (node["state"], node["drain_requested_by"]) == ("draining", actor)


def test_operators_cannot_drain_and_nothing_changes(cluster: Store, operator: tuple[TestClient, str]) -> None:
    client, csrf = operator
    assert client.post("/nodes/app1/drain", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/api/v1/nodes/app1/drain", headers=_token(cluster, Role.OPERATOR)).status_code == 403
    beat = cluster.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_at is None
    assert not [e for e in cluster.audit.list() if e.action == "node.drain"]


def test_a_drain_form_without_the_csrf_token_is_refused(cluster: Store, admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    assert client.post("/nodes/app1/drain", data={}).status_code == 403
    beat = cluster.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_at is None


def test_draining_an_unknown_node_is_404_with_one_line(cluster: Store, admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    answer = client.post("/api/v1/nodes/nobody/drain", headers=_token(cluster, Role.ADMIN))
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": "no runner named 'nobody' has ever reported (see `smartcron nodes`)"},
    )
    assert not [e for e in cluster.audit.list() if e.action == "node.drain"]
