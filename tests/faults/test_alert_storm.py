"""An alert storm while the mail server is down, under a real daemon (DESIGN 4).

Twenty critical tasks fail every two seconds while nothing listens on the SMTP port: the daemon
goes on, each task has one open alert whose count is its number of failures, each failed attempt
to mail is one log line (no traceback), and once the server listens the owed messages are
delivered: one per alert, not one per failure. The digest threshold is set above twenty so each
alert gets its own message and the count is exact (the storm digest has its own tests in
``tests/alerts``). Alerts and their dispatch are the same code on every database, and one daemon
cannot race itself: the SQLite rig only (as in ``test_overlap_live.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.domain.alerts import TASK_FAILED
from smartcron.domain.enums import CatchupPolicy, ExecutionStatus
from tests.alerts.conftest import SmtpServer
from tests.faults.rig import FaultRig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
TASKS = 20
QUIET_HEALTH = {  # no health alert of a busy test machine mixes into the count
    "health_load_warn_per_cpu": 1000,
    "health_memory_warn_percent": 100,
    "health_disk_warn_percent": 100,
    "health_disk_critical_percent": 100,
}


@pytest.fixture
def sqlite_rig(tmp_path: Path) -> Iterator[FaultRig]:
    world = FaultRig("sqlite", tmp_path)
    try:
        yield world
    finally:
        world.close()


def test_twenty_critical_tasks_failing_while_smtp_is_down_give_one_alert_each_and_one_mail_each_once_it_is_up(
    sqlite_rig: FaultRig,
) -> None:
    rig = sqlite_rig
    smtp = SmtpServer()  # its port is chosen, nothing listens on it yet
    tasks = [
        # catchup "all": a slot a loaded machine starts late runs (and fails) rather than being missed,
        # which would raise a "missed" alert of its own.
        rig.add_task(
            f"till{i:02}",
            ("false",),
            schedule="*/2 * * * * *",
            priority=1,
            retries=0,
            category="pos",
            catchup=CatchupPolicy.ALL,
        )
        for i in range(TASKS)
    ]
    a = rig.daemon(
        "a",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=2,
        alert_email_to="ops@example.com",
        alert_digest_threshold=TASKS,
        **QUIET_HEALTH,
    )
    try:
        refused = lambda: a.master_log.count(" not sent, retry at ")  # noqa: E731
        wait_for(lambda: refused() >= TASKS, "every alert's message tried and refused")
        wait_for(lambda: all(len(rig.rows(t)) >= 3 for t in tasks), "several failures of every task")
        assert a.alive(), a.output
        assert smtp.received == []
        smtp.start()
        wait_for(lambda: len(smtp.received) >= TASKS, "the owed messages delivered", bound=60)
        time.sleep(3)  # the fault itself: failures go on with the server up; no message may follow
        assert a.stop() == 0, a.output
    finally:
        smtp.stop()

    subjects = Counter(mail.subject for mail in smtp.received)
    assert subjects == Counter(f"[smartcron CRITICAL] pos/{t.spec.name} failed (exit 1)" for t in tasks), subjects
    assert all(mail.recipients == ["ops@example.com"] for mail in smtp.received)

    alerts = rig.store.alerts.list(limit=1000)
    assert sorted((alert.task_name, alert.kind, alert.state.value) for alert in alerts) == [
        (t.spec.name, TASK_FAILED, "open") for t in tasks
    ]
    failures = {t.id: sum(r.status is S.FAILED for r in rig.rows(t)) for t in tasks}
    assert {alert.task_id: alert.count for alert in alerts} == failures
    assert all(count >= 3 for count in failures.values()), failures
    assert {r.status for r in rig.all_rows()} <= {S.FAILED, S.SKIPPED}

    log = a.master_log
    assert "Traceback" not in log + a.output
    mail_lines = [line for line in log.splitlines() if " not sent, retry at " in line]
    assert mail_lines and all("Connection refused" in line for line in mail_lines), mail_lines[:3]
    assert rig.wait_no_leftovers() == []
