"""The pure alert policy: DESIGN 4's severity table, timing, storm control, backoff, wording."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.alerts.messages import MessageContext, digest_body, digest_subject, safe_line, safe_text
from smartcron.domain.alert_rules import format_duration, parse_duration
from smartcron.domain.alerts import (
    Alert,
    DeliveryMode,
    NotificationKind,
    delivery_mode,
    describe_outcome,
    first_message_at,
    is_final_failure,
    next_attempt_at,
    severity_for,
)
from smartcron.domain.enums import AlertState, ErrorCategory, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Execution
from tests.conftest import utc

NOW = utc(2026, 6, 1, 12)


@pytest.mark.parametrize(
    ("priority", "notify", "severity"),
    [
        (1, True, Severity.CRITICAL),
        (2, True, Severity.HIGH),
        (3, True, Severity.LOW),
        (1, False, Severity.LOW),
        (2, False, Severity.LOW),
        (3, False, Severity.LOW),
    ],
)
def test_severity_follows_the_design_table(priority: int, notify: bool, severity: Severity) -> None:
    assert severity_for(priority, notify) is severity


def test_critical_is_due_at_once_high_after_the_delay_low_never() -> None:
    assert first_message_at(Severity.CRITICAL, NOW, 900) == NOW
    assert first_message_at(Severity.HIGH, NOW, 900) == NOW + timedelta(minutes=15)
    assert first_message_at(Severity.LOW, NOW, 900) is None


def run(status: ExecutionStatus, *, attempt: int = 0, **fields: object) -> Execution:
    return Execution(
        id=1,
        task_id=1,
        task_name="t",
        scheduled_for=NOW,
        attempt=attempt,
        trigger=Trigger.SCHEDULE,
        status=status,
        **fields,  # type: ignore[arg-type]
    )


def test_only_the_last_attempt_or_a_fatal_error_is_a_final_failure() -> None:
    assert not is_final_failure(run(ExecutionStatus.FAILED, attempt=0), retries=3)
    assert is_final_failure(run(ExecutionStatus.FAILED, attempt=3), retries=3)
    assert is_final_failure(run(ExecutionStatus.FAILED, error_category=ErrorCategory.FATAL), retries=3)
    assert is_final_failure(run(ExecutionStatus.TIMEOUT), retries=0)
    assert is_final_failure(run(ExecutionStatus.ABANDONED), retries=0)
    assert is_final_failure(run(ExecutionStatus.KILLED, reason="memory limit"), retries=0)
    assert not is_final_failure(run(ExecutionStatus.KILLED, reason="replaced"), retries=0)
    assert not is_final_failure(run(ExecutionStatus.SUCCESS), retries=0)
    assert not is_final_failure(run(ExecutionStatus.SKIPPED, reason="overlap"), retries=0)


def test_outcomes_read_as_what_happened() -> None:
    assert describe_outcome(run(ExecutionStatus.FAILED, exit_code=1)) == "failed (exit 1)"
    assert describe_outcome(run(ExecutionStatus.FAILED, signal=9)) == "failed (killed by SIGKILL)"
    assert describe_outcome(run(ExecutionStatus.TIMEOUT), timeout=300) == "timed out after 300 s"
    fatal = run(ExecutionStatus.FAILED, exit_code=127, error_category=ErrorCategory.FATAL)
    assert describe_outcome(fatal) == "could not start (exit 127)"


def test_a_storm_gets_one_digest_per_window_and_few_alerts_go_one_by_one() -> None:
    def mode(due: int, recent: int = 0, last_digest: timedelta | None = None) -> DeliveryMode:
        at = NOW - last_digest if last_digest is not None else None
        return delivery_mode(due=due, announced_recently=recent, last_digest_at=at, now=NOW, threshold=5)

    assert mode(5) is DeliveryMode.INDIVIDUAL
    assert mode(6) is DeliveryMode.DIGEST
    assert mode(2, recent=4) is DeliveryMode.DIGEST
    assert mode(2, recent=30, last_digest=timedelta(seconds=20)) is DeliveryMode.HOLD
    assert mode(2, recent=30, last_digest=timedelta(seconds=60)) is DeliveryMode.DIGEST


def test_retries_back_off_exponentially_up_to_five_minutes_and_stop_after_a_day() -> None:
    delays = [(next_attempt_at(attempts=n, created_at=NOW, now=NOW) or NOW) - NOW for n in range(1, 10)]
    assert [d.total_seconds() for d in delays] == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert next_attempt_at(attempts=50, created_at=NOW - timedelta(hours=24), now=NOW) is None


def test_text_from_tasks_loses_control_characters_but_keeps_lines_and_tabs() -> None:
    assert safe_text("a\x1b[1mb\x1b[0m\tc\r\nd\x00e\x7f\x9b") == "ab\tc\nde"
    assert safe_line("multi\nline\tsubject\x07") == "multi line subject"
    assert len(safe_line("x" * 500)) == 200


def test_durations_parse_as_people_write_them_and_print_short() -> None:
    assert [parse_duration(x) for x in ("90", "90s", "15m", "2h", "1d", "1.5h", "soon")] == [
        90,
        90,
        900,
        7200,
        86400,
        5400,
        None,
    ]
    assert [format_duration(x) for x in (4.25, 45, 125, 7260, 93600)] == [
        "4.2 s",
        "45 s",
        "2 min 5 s",
        "2 h 1 min",
        "1 d 2 h",
    ]


def test_a_digest_is_bounded_and_lists_the_most_severe_first() -> None:
    alerts = [
        Alert(
            id=i,
            kind="task_failed",
            task_id=i,
            severity=Severity.HIGH if i % 2 else Severity.CRITICAL,
            state=AlertState.OPEN,
            message=f"pos/sync_{i} failed (exit 1)",
            count=1,
            first_seen=NOW,
            last_seen=NOW,
        )
        for i in range(1, 301)
    ]
    items = [(a, NotificationKind.ALERT) for a in alerts]
    body = digest_body(items, MessageContext("", "node1"))
    assert digest_subject(items) == "[smartcron DIGEST] 300 alerts (150 critical, 150 high)"
    assert body.count("\n- [CRITICAL]") == 50 and "[HIGH]" not in body
    assert "... and 250 more." in body and len(body) < 12_000
