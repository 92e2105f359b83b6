"""Outcome classification and retry decisions (DESIGN 3.7)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.retry import JITTER, RetryPlan, Verdict, classify_exit, decide_retry, retry_delay
from tests.conftest import utc

FINISHED = utc(2026, 3, 1, 10)


def verdict(**kwargs: object) -> Verdict:
    base: dict[str, object] = {
        "exit_code": None,
        "signal": None,
        "timed_out": False,
        "killed_reason": None,
        "spawn_error": None,
        "fatal_exit_codes": (),
    }
    base.update(kwargs)
    return classify_exit(**base)  # type: ignore[arg-type]


def test_exit_zero_is_success_without_a_category() -> None:
    assert verdict(exit_code=0) == Verdict(ExecutionStatus.SUCCESS, None)


def test_other_non_zero_exit_is_a_recoverable_failure() -> None:
    assert verdict(exit_code=1).status is ExecutionStatus.FAILED
    assert verdict(exit_code=1).category is ErrorCategory.RECOVERABLE


@pytest.mark.parametrize("code", [126, 127])
def test_shell_codes_for_not_executable_and_not_found_are_fatal(code: int) -> None:
    assert verdict(exit_code=code).category is ErrorCategory.FATAL


def test_a_command_that_cannot_start_is_a_fatal_failure_with_the_reason() -> None:
    result = verdict(exit_code=127, spawn_error="not found: nosuchcmd")
    assert result == Verdict(ExecutionStatus.FAILED, ErrorCategory.FATAL, "not found: nosuchcmd")


def test_a_start_refused_for_want_of_resources_is_recoverable() -> None:
    result = verdict(exit_code=None, spawn_error="cannot start: Resource temporarily unavailable")
    assert result.status is ExecutionStatus.FAILED and result.category is ErrorCategory.RECOVERABLE


def test_exit_codes_listed_by_the_task_are_fatal() -> None:
    assert verdict(exit_code=3, fatal_exit_codes=(3, 4)).category is ErrorCategory.FATAL
    assert verdict(exit_code=5, fatal_exit_codes=(3, 4)).category is ErrorCategory.RECOVERABLE


def test_timeout_and_death_by_signal_are_recoverable() -> None:
    assert verdict(timed_out=True, signal=15).status is ExecutionStatus.TIMEOUT
    assert verdict(timed_out=True, signal=15).category is ErrorCategory.RECOVERABLE
    assert verdict(signal=9) == Verdict(ExecutionStatus.FAILED, ErrorCategory.RECOVERABLE, "killed by signal 9")


def test_a_run_killed_on_purpose_is_killed_with_its_reason_and_no_category() -> None:
    assert verdict(killed_reason="replaced", signal=15) == Verdict(ExecutionStatus.KILLED, None, "replaced")


def test_an_adopted_process_whose_status_cannot_be_read_is_not_called_a_success() -> None:
    result = verdict(exit_code=None)
    assert result.status is ExecutionStatus.UNKNOWN_OUTCOME and result.category is None
    allowed = verdict(exit_code=None, retry_unknown=True)
    assert allowed.status is ExecutionStatus.UNKNOWN_OUTCOME and allowed.category is ErrorCategory.RECOVERABLE


def test_a_superseded_run_is_retried_at_once_and_a_cancelled_one_not_at_all() -> None:
    plan = decide(status=ExecutionStatus.SUPERSEDED)
    assert plan is not None and (plan.attempt, plan.due_at, plan.delay) == (1, FINISHED, 0.0)
    assert decide(status=ExecutionStatus.CANCELLED, category=None) is None
    assert verdict(killed_reason="cancelled by web:alice").status is ExecutionStatus.CANCELLED


def decide(**kwargs: object) -> RetryPlan | None:
    base: dict[str, object] = {
        "status": ExecutionStatus.FAILED,
        "category": ErrorCategory.RECOVERABLE,
        "trigger": Trigger.SCHEDULE,
        "attempt": 0,
        "retries": 3,
        "base_delay": 30.0,
        "max_delay": 900.0,
        "finished_at": FINISHED,
        "rng": random.Random(1),
    }
    base.update(kwargs)
    return decide_retry(**base)  # type: ignore[arg-type]


def test_recoverable_failure_is_retried_with_growing_delays_up_to_the_retry_count() -> None:
    rng = random.Random(7)
    plans = [decide(attempt=n, rng=rng) for n in range(4)]
    assert [p.attempt if p else None for p in plans] == [1, 2, 3, None]
    delays = [p.delay for p in plans if p]
    assert delays == sorted(delays) and len(set(delays)) == 3
    for n, delay in enumerate(delays):
        assert 30 * 2**n * (1 - JITTER) <= delay <= 30 * 2**n
    first = plans[0]
    assert first is not None and first.due_at == FINISHED + timedelta(seconds=first.delay)


def test_retry_delay_never_passes_the_cap() -> None:
    rng = random.Random(3)
    assert all(retry_delay(n, base=30, cap=900, rng=rng) <= 900 for n in range(0, 200))
    assert retry_delay(10, base=30, cap=900, rng=random.Random(0)) >= 900 * (1 - JITTER)


def test_jitter_comes_from_the_injected_random_source() -> None:
    first = [retry_delay(2, base=30, cap=900, rng=random.Random(42)) for _ in range(2)]
    assert first[0] == first[1]
    assert retry_delay(2, base=30, cap=900, rng=random.Random(43)) != first[0]


def test_fatal_failure_is_never_retried() -> None:
    assert decide(category=ErrorCategory.FATAL) is None


def test_success_killed_and_unknown_outcomes_are_not_retried() -> None:
    assert decide(status=ExecutionStatus.SUCCESS, category=None) is None
    assert decide(status=ExecutionStatus.KILLED, category=None) is None
    assert decide(status=ExecutionStatus.ABANDONED, category=None) is None


def test_abandoned_and_timed_out_runs_are_retried() -> None:
    assert decide(status=ExecutionStatus.ABANDONED) is not None
    assert decide(status=ExecutionStatus.TIMEOUT) is not None


def test_manual_runs_are_not_retried_but_retries_of_retries_are() -> None:
    assert decide(trigger=Trigger.MANUAL) is None
    assert decide(trigger=Trigger.RETRY, attempt=2) is not None


def test_a_task_with_zero_retries_gets_none() -> None:
    assert decide(retries=0) is None
