"""``smartcron why`` as a person and a script use it: one line per slot, JSON, exit code 2 on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.config import Settings, load_settings
from smartcron.domain.task import TaskSpec
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.cli.test_runs_cli import run_main
from tests.services.why_support import ran


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


@pytest.fixture
def daily(store: Store) -> tuple[datetime, int]:
    """A daily task whose slot was ten minutes ago, and ran: (that slot, its execution id). Daily,
    so no other slot can come due while the test runs."""
    slot = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    spec = TaskSpec(name="report", command=("true",), schedule=f"{slot.minute} {slot.hour} * * *", timezone="UTC")
    task = store.tasks.add(spec, now=slot - timedelta(minutes=1), next_run_at=slot + timedelta(days=1))
    [row] = ran(store, task, [slot], seconds=3)
    return slot, row.id


def test_why_prints_one_line_per_slot_and_the_next_three_times(daily: tuple[datetime, int]) -> None:
    slot, execution_id = daily
    code, out, err = run_main("why", "report")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{slot:%Y-%m-%d %H:%M} UTC  ran  #{execution_id} on node-a: success in 3 s"
    assert lines[1] == "next:"
    following = [slot + timedelta(days=d) for d in (1, 2, 3)]
    assert lines[2:] == [f"  {t:%Y-%m-%d %H:%M} UTC  ({t:%Y-%m-%dT%H:%M:%SZ})" for t in following]


def test_why_json_lists_each_slot_with_its_outcome_and_the_next_times(daily: tuple[datetime, int]) -> None:
    slot, execution_id = daily
    code, out, _ = run_main("why", "report", "--since", "3d", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["task"], data["timezone"], data["truncated"], data["state"]) == ("report", "UTC", False, None)
    latest = data["slots"][-1]
    assert {k: latest[k] for k in ("slot", "outcome", "execution_id", "node", "status", "trigger")} == {
        "slot": slot.isoformat(),
        "outcome": "ran",
        "execution_id": execution_id,
        "node": "node-a",
        "status": "success",
        "trigger": "schedule",
    }
    added = f"before the task was added ({slot - timedelta(minutes=1):%Y-%m-%d %H:%M} UTC)"
    assert [(r["outcome"], r["reason"]) for r in data["slots"][:-1]] == [("no record", added)] * 2
    assert data["next"] == [(slot + timedelta(days=d)).isoformat() for d in (1, 2, 3)]


def test_why_of_an_unknown_task_is_one_line_naming_it_and_exit_two(daily: tuple[datetime, int]) -> None:
    assert run_main("why", "nope") == (2, "", "smartcron: no task named 'nope'\n")


@pytest.mark.parametrize(
    ("since", "message"),
    [
        (
            "yesterday",
            "--since: 'yesterday' is neither a duration such as 6h or 2d nor an ISO 8601 time such as 2026-03-28T02:00",
        ),
        ("2999-01-01T00:00", "--since: '2999-01-01T00:00' is not in the past"),
        ("400d", "--since: '400d' is more than 366 days back"),
    ],
)
def test_why_with_a_bad_since_is_one_line_naming_the_option_and_exit_two(
    daily: tuple[datetime, int], since: str, message: str
) -> None:
    assert run_main("why", "report", "--since", since) == (2, "", f"smartcron: {message}\n")
