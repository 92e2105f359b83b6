"""What one execution row says about its slot, in words (for ``smartcron why``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from smartcron.domain.alert_rules import format_duration
from smartcron.domain.enums import CatchupPolicy, ExecutionStatus, OverlapPolicy, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.planning import CATCHUP_ALL_LIMIT
from smartcron.domain.why_model import SlotExplanation, WhyContext, WhyOutcome

_SUMMARY = re.compile(r"slots missed from (\S+) to (\S+)$")
"""The reason of the one row that stands for many missed slots (``planning.MissedSummary``)."""


def explain_row(row: Execution, ctx: WhyContext) -> SlotExplanation:
    base = SlotExplanation(
        slot=row.scheduled_for,
        outcome=WhyOutcome.RAN,
        reason="",
        execution_id=row.id,
        node=row.node,
        status=row.status,
        trigger=row.trigger,
        attempt=row.attempt,
    )
    status = row.status
    if status is ExecutionStatus.SKIPPED:
        return _replace(base, WhyOutcome.SKIPPED, _skipped(row, ctx))
    if status is ExecutionStatus.MISSED:
        return _replace(base, WhyOutcome.MISSED, _missed(row, ctx))
    if status is ExecutionStatus.SCHEDULED:
        return _replace(base, WhyOutcome.WAITING, _waiting(row, ctx))
    if row.started_at is None and status is ExecutionStatus.CANCELLED:
        return _replace(base, WhyOutcome.CANCELLED, f"#{row.id} did not start: {row.reason or 'cancelled'}")
    if status is ExecutionStatus.RUNNING:
        since = f" since {ctx.local(row.started_at)}" if row.started_at else ""
        return _replace(base, WhyOutcome.RUNNING, f"#{row.id} on {row.node or '?'}: running{since}")
    return _ran(row, base, ctx)


def summary_range(row: Execution) -> tuple[datetime, datetime] | None:
    """The slots a missed row stands for when it counts many (its reason says from when to when)."""
    match = _SUMMARY.search(row.reason or "") if row.status is ExecutionStatus.MISSED else None
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match.group(1)), datetime.fromisoformat(match.group(2))
    except ValueError:
        return None


def _replace(base: SlotExplanation, outcome: WhyOutcome, reason: str, actor: str | None = None) -> SlotExplanation:
    return SlotExplanation(
        base.slot, outcome, reason, base.execution_id, base.node, base.status, base.trigger, base.attempt, actor
    )


def _ran(row: Execution, base: SlotExplanation, ctx: WhyContext) -> SlotExplanation:
    where = f"#{row.id} on {row.node or '?'}"
    result = f"{row.status.value}{_detail(row)}"
    if row.duration_ms is not None:
        result += f" in {format_duration(row.duration_ms / 1000)}"
    if row.trigger is Trigger.MANUAL:
        actor = ctx.requested_by.get(row.id)
        who = f"requested by {actor}" if actor else "requested (who is not recorded)"
        return _replace(base, WhyOutcome.MANUAL, f"{where}, {who}: {result}", actor)
    if row.trigger is Trigger.RETRY:
        of = f" (retry of #{row.retry_of})" if row.retry_of else ""
        return _replace(base, WhyOutcome.RETRY, f"{where}, attempt {row.attempt}{of}: {result}")
    if row.trigger is Trigger.CATCHUP and row.started_at is not None:
        late = format_duration((row.started_at - row.scheduled_for).total_seconds())
        where += f", late by {late} (catch-up after downtime)"
    return _replace(base, WhyOutcome.RAN, f"{where}: {result}")


def _detail(row: Execution) -> str:
    if row.status is ExecutionStatus.SUCCESS:
        return ""
    parts = []
    if row.exit_code is not None:
        parts.append(f"exit {row.exit_code}")
    elif row.signal is not None:
        parts.append(f"signal {row.signal}")
    if row.reason:
        parts.append(row.reason)
    return f" ({'; '.join(parts)})" if parts else ""


def _skipped(row: Execution, ctx: WhyContext) -> str:
    policy = ctx.task.spec.overlap
    decided = row.finished_at or row.scheduled_for
    rule = f"overlap = {policy.value}"
    if policy is OverlapPolicy.QUEUE:
        rule += ", which keeps at most one run waiting"
    running = ctx.running_at(decided, besides=row.id)
    if running is not None:
        slot = ctx.local(running.scheduled_for)
        return f"skipped for overlap: #{running.id} (slot {slot}) was still running ({rule})"
    waiting = next(
        (r for r in ctx.rows_back_from(row.scheduled_for) if r.id != row.id and _waiting_at(r, decided)), None
    )
    if waiting is not None:
        slot = ctx.local(waiting.scheduled_for)
        return f"skipped for overlap: #{waiting.id} (slot {slot}) was waiting to start ({rule})"
    return f"skipped for overlap: the previous run was still going ({rule})"


def _waiting_at(row: Execution, moment: datetime) -> bool:
    if row.started_at is not None:
        return row.started_at > moment
    return row.status is ExecutionStatus.SCHEDULED or (
        row.status is ExecutionStatus.CANCELLED and (row.finished_at or moment) > moment
    )


def _waiting(row: Execution, ctx: WhyContext) -> str:
    text = f"#{row.id} claimed, waiting to start"
    if not ctx.alive_runners(ctx.now):
        newest = max((r.last_beat for r in ctx.runners), default=None)
        text += f"; no runner alive since {ctx.local(newest)}" if newest else "; no runner has ever run"
    return text


def _missed(row: Execution, ctx: WhyContext) -> str:
    reason = row.reason or ""
    recorded = row.finished_at or ctx.now
    if summary_range(row) is not None:
        return f"{_gap(row.scheduled_for, recorded, ctx)}: {reason}"
    if reason.startswith("claimed but never started"):
        return f"claimed by {row.node or 'a runner'}, but that runner died before starting it; {_policy_word(ctx)}"
    if reason.startswith("no runner started it"):
        return f"queued, but no runner was alive to start it: recorded missed at {ctx.local(recorded)} ({reason})"
    return f"{_gap(row.scheduled_for, recorded, ctx)}; {_why_not_caught_up(row, recorded, ctx)}"


def _gap(slot: datetime, recorded: datetime, ctx: WhyContext) -> str:
    """No runner alive from T1 to T2: T1 the task's last sign of a runner before the slot (a row
    started or written), T2 when a runner came back and wrote the missed row."""
    seen = ctx.last_sign_before(slot)
    back = ctx.local(recorded)
    if seen is None:
        return f"no runner alive until {back}"
    return f"no runner alive from {ctx.local(seen)} to {back}"


def _why_not_caught_up(row: Execution, recorded: datetime, ctx: WhyContext) -> str:
    spec = ctx.task.spec
    caught_up = ctx.first_started(Trigger.CATCHUP, row.scheduled_for, recorded)
    on_time = ctx.first_started(Trigger.SCHEDULE, row.scheduled_for, recorded)
    late = recorded - row.scheduled_for
    past_deadline = spec.starting_deadline is not None and late > timedelta(seconds=spec.starting_deadline)
    if spec.catchup is CatchupPolicy.NONE:
        return "catchup = none: slots missed while no runner ran are never run"
    if past_deadline and caught_up is None and on_time is None:
        return (
            f"past its starting deadline: {format_duration(late.total_seconds())} late, "
            f"the deadline is {format_duration(float(spec.starting_deadline or 0))}"
        )
    if spec.catchup is CatchupPolicy.ALL:
        if past_deadline:
            return f"past its starting deadline of {format_duration(float(spec.starting_deadline or 0))}"
        return f"catchup = all runs at most {CATCHUP_ALL_LIMIT} missed slots, the newest; this one was older"
    if caught_up is not None:
        return (
            f"catchup = latest ran only the newest missed slot ({ctx.local(caught_up.scheduled_for)}, #{caught_up.id})"
        )
    if on_time is not None:
        return (
            f"catchup = latest: the runner was back in time for the slot at {ctx.local(on_time.scheduled_for)} "
            f"(#{on_time.id}), which ran instead"
        )
    return "catchup = latest: only the newest missed slot runs"


def _policy_word(ctx: WhyContext) -> str:
    return f"catchup = {ctx.task.spec.catchup.value} let it go"
