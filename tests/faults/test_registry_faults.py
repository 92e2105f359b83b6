"""Faults around the registry's word: a runner down for hours, a node whose clock is wrong, a history
that cannot be written, a stale lock file naming a live unrelated process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from smartcron.domain.enums import CatchupPolicy, ExecutionStatus
from tests.faults.rig import FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
HALF_HOUR = timedelta(minutes=30)


def test_after_three_hours_down_each_catchup_policy_does_as_it_says(rig: FaultRig) -> None:
    now = datetime.now(UTC)
    first = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0) + HALF_HOUR
    owed = [first + i * HALF_HOUR for i in range(12) if first + i * HALF_HOUR <= now]
    tasks = {}
    for policy in CatchupPolicy:
        task = rig.add_task(f"report_{policy}", ("true",), schedule="*/30 * * * *", catchup=policy, retries=0)
        # The registry's word when its runner went away three hours ago: the next slot was then.
        rig.store.tasks.update(task.spec, now=first - HALF_HOUR, next_run_at=first)
        tasks[policy] = task
    a = rig.daemon("a")
    settled = lambda: all(len([r for r in rig.rows(t) if r.scheduled_for <= now]) == len(owed) for t in tasks.values())  # noqa: E731
    wait_for(lambda: settled() and not rig.live_rows(), "every owed slot has its row")
    assert a.stop() == 0, a.output

    def history(policy: CatchupPolicy) -> list[tuple[datetime, ExecutionStatus]]:
        return [(r.scheduled_for, r.status) for r in rig.rows(tasks[policy]) if r.scheduled_for <= now]

    assert history(CatchupPolicy.ALL) == [(slot, S.SUCCESS) for slot in owed]
    assert history(CatchupPolicy.NONE) == [(slot, S.MISSED) for slot in owed]
    assert history(CatchupPolicy.LATEST) == [(slot, S.MISSED) for slot in owed[:-1]] + [(owed[-1], S.SUCCESS)]
    assert rig.duplicate_successes() == []


def test_a_node_whose_clock_is_two_minutes_fast_claims_by_the_databases_time_and_is_flagged(rig: FaultRig) -> None:
    task = rig.add_task("pos_sync", ("true",), schedule="*/2 * * * * *", retries=0)
    offset = rig.tmp_path / "b-clock-offset"
    offset.write_text("120")
    a = rig.daemon("a")
    b = rig.daemon("b", clock_offset_file=str(offset))
    rig.wait_up(a)
    rig.wait_up(b)
    wait_for(lambda: len([r for r in rig.rows(task) if r.node == "b" and r.status is S.SUCCESS]) >= 2, "runs on b")
    listing = subprocess.run(
        [sys.executable, "-m", "smartcron", "nodes", "--json"],
        env=rig.nodes["a"].env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert a.stop() == 0 and b.stop() == 0
    views = {view["name"]: view for view in json.loads(listing.stdout) if view.get("role") != "tick"}
    assert views["b"]["skewed"] is True and 115_000 <= views["b"]["clock_offset_ms"] <= 125_000, views["b"]
    assert views["a"]["skewed"] is False
    rows = [r for r in rig.rows(task) if r.status is S.SUCCESS]
    early = [
        (r.id, r.node, r.scheduled_for, r.started_at) for r in rows if r.started_at and r.started_at < r.scheduled_for
    ]
    assert early == [], "no run starts before its slot by the database's clock"
    assert all(r.started_at and r.started_at - r.scheduled_for < timedelta(minutes=1) for r in rows)
    assert rig.duplicate_successes() == []


REFUSE = {
    "postgresql": [
        "CREATE FUNCTION refuse_start() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'history is read-only'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_start BEFORE UPDATE ON smart_cron_executions FOR EACH ROW "
        "WHEN (NEW.status = 'running') EXECUTE FUNCTION refuse_start()",
    ],
    "mariadb": [
        "CREATE TRIGGER refuse_start BEFORE UPDATE ON smart_cron_executions FOR EACH ROW "
        "BEGIN IF NEW.status = 'running' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'history is read-only'; "
        "END IF; END",
    ],
}
ALLOW = {"postgresql": "DROP TRIGGER refuse_start ON smart_cron_executions", "mariadb": "DROP TRIGGER refuse_start"}


def test_a_run_whose_start_cannot_be_recorded_is_not_started_and_starts_once_it_can(rig: FaultRig) -> None:
    marker = rig.tmp_path / "ran"
    task = rig.add_task("payroll", ("sh", "-c", 'echo x >> "$0"', str(marker)), schedule="0 0 1 1 *", retries=0)
    with rig.store.engine.begin() as conn:
        for statement in REFUSE[rig.backend]:
            conn.execute(text(statement))
    a = rig.daemon("a")
    wait_for(lambda: "history is read-only" in a.master_log, "the refused start in the log")
    time.sleep(2)  # the fault itself: several passes meet the refusal
    assert not marker.exists(), "a run whose row cannot say it started is never spawned"
    assert a.alive(), a.output
    with rig.store.engine.begin() as conn:
        conn.execute(text(ALLOW[rig.backend]))
    wait_for(lambda: [r.status for r in rig.rows(task)] == [S.SUCCESS], "the run once its start can be recorded")
    assert a.stop() == 0, a.output
    assert marker.read_text() == "x\n"
    assert rig.wait_no_leftovers() == []


def test_a_stale_lock_file_naming_a_live_unrelated_process_does_not_stop_a_runner(tmp_path: Path) -> None:
    rig = FaultRig("sqlite", tmp_path)
    try:
        task = rig.add_task("backup", ("true",), schedule="0 0 1 1 *", retries=0)
        a = rig.node("a")
        lock = a.home / "run" / "runner-a.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        unrelated = subprocess.Popen(["sleep", "120"])  # a live process that is no smartcron
        try:
            lock.write_text(f"{unrelated.pid}\n")
            rig.start(a)
            wait_for(lambda: [r.status for r in rig.rows(task)] == [S.SUCCESS], "the run")
            assert a.stop() == 0, a.output
            assert unrelated.poll() is None, "the process the stale lock named was left alone"
        finally:
            unrelated.kill()
            unrelated.wait()
    finally:
        rig.close()


def test_a_full_log_disk_neither_stops_the_runner_nor_loses_the_record_of_a_run(tmp_path: Path) -> None:
    rig = FaultRig("sqlite", tmp_path)
    try:
        flood = rig.add_task(
            "export",
            ("sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo done"),
            schedule="0 0 1 1 *",
            retries=0,
            max_output_kb=8192,
        )
        after = rig.add_task("after", ("echo", "still here"), schedule="*/2 * * * * *", retries=0)
        a = rig.node("a")
        # Every file the runner writes stops at 1 MB (the database is far smaller): the disk is full.
        rig.start(a, file_size_limit=1_000_000)
        wait_for(lambda: [r.status for r in rig.rows(flood)] == [S.SUCCESS], "the flooding run recorded")
        wait_for(lambda: len([r for r in rig.rows(after) if r.status is S.SUCCESS]) >= 2, "later runs")
        assert a.alive(), a.output
        assert a.stop() == 0, a.output
        [run] = rig.rows(flood)
        assert run.output is not None and run.output.rstrip().endswith("done"), "the row keeps the tail"
        assert (a.home / "logs" / "tasks" / "default_export.log").stat().st_size == 1_000_000, "the log met the limit"
    finally:
        rig.close()


def test_sqlite_under_a_runner_health_checks_readers_and_twenty_runs_ending_together_is_never_locked(
    tmp_path: Path,
) -> None:
    rig = FaultRig("sqlite", tmp_path)
    try:
        tasks = [rig.add_task(f"till{i:02}", ("true",), schedule="*/2 * * * * *", retries=0) for i in range(20)]
        a = rig.daemon("a")
        wait_for(lambda: all(rig.rows(t) for t in tasks), "the first slot of every task")
        env = a.env
        commands = [("health", "--json"), ("runs", "--json"), ("tasks", "list", "--json"), ("health", "--json")]
        answers = []
        for _ in range(3):  # the other writers and readers, all at once, while runs end
            running = [
                subprocess.Popen(
                    [sys.executable, "-m", "smartcron", *c],
                    env=env,
                    cwd=a.home,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                for c in commands
            ]
            for process in running:
                out, _ = process.communicate(timeout=120)
                answers.append((process.args[3:], process.returncode, out))
        assert a.stop() == 0, a.output
        said = "\n".join(text for _, _, text in answers) + a.master_log + a.output
        assert "database is locked" not in said
        assert [(args, code) for args, code, _ in answers if code != 0 and args[0] != "health"] == []
        rows = rig.all_rows()
        # A slot the busy machine came to late may be recorded missed (catch-up latest): never failed.
        assert {r.status for r in rows} <= {S.SUCCESS, S.MISSED, S.KILLED, S.SKIPPED}, {r.status for r in rows}
        assert sum(r.status is S.SUCCESS for r in rows) >= len(tasks)
        assert rig.duplicate_successes() == []
    finally:
        rig.close()
