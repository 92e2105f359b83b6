"""A user's own display zone: set on /me or with `smartcron users timezone`, the same audit entry;
every time on that user's pages follows it, nobody else's do."""

from __future__ import annotations

import getpass
import re

from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcron.cli.main import cli, main
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.web.conftest import NOW, add_task, log_in

WINTER_NOON_UTC = NOW.replace(month=1, day=15, hour=12, minute=0, second=0, microsecond=0)


def _finished_run(store: Store) -> int:
    task_id = add_task(store, "bank_import")
    at = WINTER_NOON_UTC
    [run] = store.executions.claim([SlotClaim(task_id, at, Trigger.SCHEDULE)], node="n", token="t", now=at)
    store.executions.begin([run.id], node="n", token="t", now=at, lease_until=at)
    store.executions.finish([Finish(run.id, task_id, Outcome(ExecutionStatus.SUCCESS, at, exit_code=0))], token="t")
    return run.id


def _times(html: str) -> set[str]:
    return set(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+\-0-9]+", html))


def test_a_user_who_sets_a_zone_on_the_me_page_reads_every_time_in_it_and_others_do_not(
    app: FastAPI, web_store: Store
) -> None:
    run_id = _finished_run(web_store)
    with TestClient(app) as viewer, TestClient(app) as operator:
        csrf = log_in(viewer, "viewer")
        log_in(operator, "operator")
        assert "2026-01-15 12:00:00 UTC" in _times(viewer.get(f"/executions/{run_id}").text)
        answer = viewer.post("/me/timezone", data={"csrf_token": csrf, "timezone": "Pacific/Auckland"})
        assert answer.status_code == 200 and "Times are shown in Pacific/Auckland." in answer.text
        page = viewer.get(f"/executions/{run_id}").text
        assert "2026-01-16 01:00:00 NZDT" in _times(page)  # noon UTC is 1 am the next day in New Zealand summer
        assert "times in Pacific/Auckland unless marked" in page and 'data-zone="Pacific/Auckland"' in page
        assert "2026-01-15 12:00:00 UTC" in _times(operator.get(f"/executions/{run_id}").text)
        entry = web_store.audit.list(limit=1)[0]
        assert (entry.actor, entry.action, entry.target) == ("web:viewer", "user.timezone", "viewer")
        assert entry.details == {"timezone": {"old": None, "new": "Pacific/Auckland"}}

        bad = viewer.post("/me/timezone", data={"csrf_token": csrf, "timezone": "Mars/Olympus"})
        assert bad.status_code == 422 and "timezone &#39;Mars/Olympus&#39;: not an IANA time zone" in bad.text
        assert web_store.users.get("viewer").timezone == "Pacific/Auckland", "nothing changed"
        no_csrf = viewer.post("/me/timezone", data={"timezone": ""})
        assert no_csrf.status_code == 403
        viewer.post("/me/timezone", data={"csrf_token": csrf, "timezone": ""})
        assert "2026-01-15 12:00:00 UTC" in _times(viewer.get(f"/executions/{run_id}").text)


def test_the_cli_sets_shows_and_clears_a_users_zone_with_the_same_audit_entry(web_store: Store) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "timezone", "viewer", "Europe/Berlin"]).exit_code == 0
    entry = web_store.audit.list(limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == (f"cli:{getpass.getuser()}", "user.timezone", "viewer")
    assert entry.details == {"timezone": {"old": None, "new": "Europe/Berlin"}}
    assert runner.invoke(cli, ["users", "timezone", "viewer"]).output == "Europe/Berlin\n"
    with CliRunner().isolation() as (_out, err, _):
        try:
            main(["users", "timezone", "viewer", "Europe/Nowhere"])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    message = err.getvalue().decode()
    assert code == 2 and message.count("\n") == 1 and "timezone 'Europe/Nowhere'" in message, message
    assert runner.invoke(cli, ["users", "timezone", "viewer", "--clear"]).exit_code == 0
    assert web_store.users.get("viewer").timezone is None
    assert "(the installation's)" in runner.invoke(cli, ["users", "timezone", "viewer"]).output
