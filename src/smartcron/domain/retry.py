"""How a run ended (status and error category), and whether it gets another attempt (DESIGN 3.7).

Fatal, never retried: the command could not start (not found, not executable: 126, 127) and the
exit codes a task lists in ``fatal_exit_codes``. A start that failed for want of resources (fork
refused, out of file descriptors: a spawn error without an exit code) is recoverable. Recoverable: any other
non-zero exit, a timeout, death by a signal, a run abandoned when its runner died. Runs killed on
purpose (replaced, by an operator, at shutdown, after a lost lease) are not failures of the task
and are not retried; neither are manual runs, whose requester sees the result.

Attempt ``n`` failing schedules attempt ``n + 1`` after ``retry_delay * 2**n`` seconds, capped at
``retry_max_delay``, minus up to ``JITTER`` of it so many tasks failing together do not retry in
lockstep (jitter only shortens, so delays still grow and never pass the cap).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger

CANNOT_EXECUTE = 126
NOT_FOUND = 127
SHELL_FATAL_CODES = frozenset({CANNOT_EXECUTE, NOT_FOUND})
JITTER = 0.2
UNKNOWN_EXIT_REASON = "exit status unknown (adopted after a runner restart)"
CANCELLED_PREFIX = "cancelled by "
"""The kill reason of a run a person cancelled (``cancelled by alice``): recorded ``cancelled``."""


@dataclass(frozen=True, slots=True)
class Verdict:
    status: ExecutionStatus
    category: ErrorCategory | None
    reason: str | None = None


def classify_exit(
    *,
    exit_code: int | None,
    signal: int | None,
    timed_out: bool,
    killed_reason: str | None,
    spawn_error: str | None,
    fatal_exit_codes: tuple[int, ...] | frozenset[int] = (),
    retry_unknown: bool = False,
) -> Verdict:
    """The status and error category of a run from how its process ended."""
    if killed_reason:
        status = ExecutionStatus.CANCELLED if killed_reason.startswith(CANCELLED_PREFIX) else ExecutionStatus.KILLED
        return Verdict(status, None, killed_reason)
    if timed_out:
        return Verdict(ExecutionStatus.TIMEOUT, ErrorCategory.RECOVERABLE, "timeout")
    if spawn_error:
        transient = exit_code is None
        return Verdict(
            ExecutionStatus.FAILED, ErrorCategory.RECOVERABLE if transient else ErrorCategory.FATAL, spawn_error
        )
    if signal is not None:
        return Verdict(ExecutionStatus.FAILED, ErrorCategory.RECOVERABLE, f"killed by signal {signal}")
    if exit_code is None:
        # An adopted process is not our child: its exit status cannot be read. Say so rather
        # than guess; it is retried only where the task allows it (it may have done its work).
        category = ErrorCategory.RECOVERABLE if retry_unknown else None
        return Verdict(ExecutionStatus.UNKNOWN_OUTCOME, category, UNKNOWN_EXIT_REASON)
    if exit_code == 0:
        return Verdict(ExecutionStatus.SUCCESS, None)
    if exit_code in SHELL_FATAL_CODES or exit_code in fatal_exit_codes:
        return Verdict(ExecutionStatus.FAILED, ErrorCategory.FATAL, f"exit code {exit_code} is fatal")
    return Verdict(ExecutionStatus.FAILED, ErrorCategory.RECOVERABLE)


def longest_retry_delay(failed_attempt: int, *, base: float, cap: float) -> float:
    """The delay after attempt ``failed_attempt`` (0 = the first run) before jitter shortens it."""
    exponent = min(failed_attempt, 62)  # 2**62 s is beyond any cap; keeps the float finite
    return min(float(cap), float(base) * 2.0**exponent)


def retry_delay(failed_attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (0 = the first run) failed."""
    return longest_retry_delay(failed_attempt, base=base, cap=cap) * (1.0 - JITTER * rng.random())


@dataclass(frozen=True, slots=True)
class RetryPlan:
    attempt: int
    """The attempt number of the retry (1 for the first retry)."""
    due_at: datetime
    delay: float


def decide_retry(
    *,
    status: ExecutionStatus,
    category: ErrorCategory | None,
    trigger: Trigger,
    attempt: int,
    retries: int,
    base_delay: float,
    max_delay: float,
    finished_at: datetime,
    rng: random.Random,
) -> RetryPlan | None:
    """The next attempt of a finished run, or None when it gets none."""
    if category is not ErrorCategory.RECOVERABLE or not status.is_failure:
        return None
    if trigger is Trigger.MANUAL or attempt >= retries:
        return None
    # A run superseded because its node was lost did not fail: its retry is due at once.
    delay = (
        0.0 if status is ExecutionStatus.SUPERSEDED else retry_delay(attempt, base=base_delay, cap=max_delay, rng=rng)
    )
    return RetryPlan(attempt + 1, finished_at + timedelta(seconds=delay), delay)
