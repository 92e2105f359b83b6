"""Run now through each door: ``smartcron tasks run``, ``POST /api/v1/tasks/NAME/run`` and the
grid's Run button queue the same manual run and write the same audit entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from smartcron.cli.main import cli
from smartcron.cli.tasks import cli_actor
from smartcron.domain.enums import ExecutionStatus, Role, Trigger
from smartcron.store import Store
from smartcron.web.accounts import Accounts
from tests.web.conftest import NOW, add_task


def _by_cli(client: TestClient, csrf: str, store: Store) -> tuple[str, int]:
    result = CliRunner().invoke(cli, ["tasks", "run", "payroll"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return cli_actor(), int(result.output.split()[1])


def _by_api(client: TestClient, csrf: str, store: Store) -> tuple[str, int]:
    secret, _ = Accounts(store, actor="test").create_token("ops-script", role=Role.OPERATOR, now=NOW)
    answer = client.post("/api/v1/tasks/payroll/run", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 202, answer.text
    return "web:token:ops-script", int(answer.json()["execution_id"])


def _by_dashboard(client: TestClient, csrf: str, store: Store) -> tuple[str, int]:
    answer = client.post("/tasks/payroll/run", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    [run] = store.executions.list(limit=1)
    return "web:operator", run.id


@pytest.mark.parametrize("door", [_by_cli, _by_api, _by_dashboard], ids=["cli", "api", "dashboard"])
def test_run_now_through_any_door_queues_one_manual_run_audited_the_same_way(
    web_store: Store, operator: tuple[TestClient, str], door: Callable[[TestClient, str, Store], tuple[str, int]]
) -> None:
    add_task(web_store, "payroll")
    web_store.nodes.beat("app1", "runner", now=web_store.database_now(), info={"active": True})  # a live runner
    client, csrf = operator
    actor, execution_id = door(client, csrf, web_store)
    run = web_store.executions.get(execution_id)
    assert (run.task_name, run.trigger, run.status) == ("payroll", Trigger.MANUAL, ExecutionStatus.SCHEDULED)
    [entry] = [e for e in web_store.audit.list() if e.action == "task.run"]
    assert (entry.actor, entry.target, entry.details) == (actor, "payroll", {"execution_id": execution_id})
