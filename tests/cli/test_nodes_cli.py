"""``smartcron nodes`` and ``smartcron nodes drain``, as an operator upgrading a cluster uses them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.config import Settings, load_settings
from smartcron.domain.enums import Trigger
from smartcron.domain.task import TaskSpec
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from smartcron.store.executions import SlotClaim
from tests.cli.test_runs_cli import run_main


@pytest.fixture
def settings(home: Path) -> Settings:
    settings = load_settings()
    initialise(settings)
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


def test_nodes_shows_each_runner_with_its_state_clock_and_runs(store: Store) -> None:
    now = datetime.now(UTC)
    info = {"active": True, "tags": ["gpu"], "lease_seconds": 5, "clock_offset_ms": 3400, "host": "app1"}
    store.nodes.beat("app1", "runner", now=now, pid=11, version="0.1.0", info=info)
    store.nodes.beat("app2", "runner", now=now - timedelta(minutes=3), pid=12, version="0.1.0",
                     info={"active": True, "lease_seconds": 5})  # fmt: skip
    store.nodes.beat("old", "runner", now=now - timedelta(days=1), info={"active": False})
    task = store.tasks.add(TaskSpec(name="held", command=("true",), schedule="0 0 1 1 *"), now=now, next_run_at=now)
    [row] = store.executions.claim([SlotClaim(task.id, now, Trigger.SCHEDULE)], node="app2", token="c", now=now)
    store.executions.begin([row.id], node="app2", token="t", now=now, lease_until=now - timedelta(minutes=2))

    code, out, _ = run_main("nodes", "--json")
    assert code == 0
    views = {view["name"]: view for view in json.loads(out)}
    assert {name: view["state"] for name, view in views.items()} == {"app1": "active", "app2": "lost", "old": "stopped"}
    assert (views["app1"]["tags"], views["app1"]["clock_offset_ms"], views["app1"]["skewed"]) == (["gpu"], 3400, True)
    assert (views["app2"]["running"], views["app1"]["running"]) == (1, 0)

    code, table, _ = run_main("nodes")
    assert code == 0
    assert table.splitlines()[0].split() == ["NODE", "ROLE", "STATE", "TAGS", "VERSION", "HEARTBEAT", "CLOCK",
                                             "RUNNING", "LEASE", "UNTIL"]  # fmt: skip
    assert "+3.4 s (skewed)" in table and "lost" in table


def test_drain_asks_a_runner_to_finish_and_stop_and_is_audited(store: Store) -> None:
    store.nodes.beat("app1", "runner", now=datetime.now(UTC), info={"active": True})
    code, out, _ = run_main("nodes", "drain", "app1")
    assert (code, out.strip()) == (0, "asked app1 to drain: it claims nothing more, finishes what runs, then stops")
    beat = store.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_at is not None
    assert beat.drain_requested_by is not None and beat.drain_requested_by.startswith("cli:")
    [entry] = [e for e in store.audit.list() if e.action == "node.drain"]
    assert entry.target == "app1"
    code, views, _ = run_main("nodes", "--json")
    assert json.loads(views)[0]["state"] == "draining"


def test_draining_an_unknown_node_is_one_line_and_exit_code_2(store: Store) -> None:
    code, _, err = run_main("nodes", "drain", "nobody")
    assert code == 2
    assert err.strip() == "smartcron: no runner named 'nobody' has ever reported (see `smartcron nodes`)"
