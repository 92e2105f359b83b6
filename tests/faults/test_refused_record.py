"""A database that refuses to record one run's outcome, under a real daemon.

The refusal is a trigger on one task's rows, standing for any outcome the database will not take
(a value it rejects, a constraint): that run cannot be recorded, but every other run must be.
PostgreSQL only: the refusal is a trigger, and how the runner reacts to it is the same on every
database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from smartcron.domain.enums import ExecutionStatus
from tests.faults.rig import FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus


def test_an_outcome_the_database_refuses_does_not_stop_the_runner_recording_the_others(tmp_path: Path) -> None:
    rig = FaultRig("postgresql", tmp_path)
    try:
        refused = rig.add_task("ledger_export", ("true",), schedule="0 0 1 1 *", retries=0)
        with rig.store.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_end() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'outcome refused'; "
                    "END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_end BEFORE UPDATE ON smart_cron_executions FOR EACH ROW "
                    f"WHEN (NEW.task_id = {refused.id} AND NEW.status <> 'running') EXECUTE FUNCTION refuse_end()"
                )
            )
        a = rig.daemon("a")
        wait_for(lambda: "outcome refused" in a.master_log, "the refused outcome in the log")
        other = rig.add_task("till_close", ("echo", "ok"), schedule="*/2 * * * * *", retries=0)
        done = lambda: [r for r in rig.rows(other) if r.status is S.SUCCESS]  # noqa: E731
        wait_for(lambda: len(done()) >= 2, "runs of another task recorded meanwhile", bound=10)
        assert [r.status for r in rig.rows(refused)] == [S.RUNNING], "it cannot be recorded, and says so"
        assert a.alive(), a.output
        assert "Traceback" not in a.master_log + a.output
    finally:
        rig.close()
