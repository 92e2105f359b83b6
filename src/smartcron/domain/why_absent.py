"""Why a slot has no execution row (for ``smartcron why``).

Every slot that came due while its task was enabled and not paused gets a row (DESIGN 2), so a
slot without one was paused, disabled, before the task existed, not planned yet (no runner, or
none allowed to run the task), or counted by a summary row of many missed slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from smartcron.domain.execution import Execution
from smartcron.domain.why_model import FlagChange, SlotExplanation, WhyContext, WhyOutcome

_STATE_ACTIONS = ("pause", "resume", "disable", "enable")


def explain_absent(
    slot: datetime, ctx: WhyContext, summaries: Sequence[tuple[datetime, datetime, Execution]]
) -> SlotExplanation:
    for first, last, row in summaries:
        if first <= slot <= last:
            return SlotExplanation(
                slot, WhyOutcome.MISSED, f"counted in #{row.id}: {row.reason}", row.id, row.node, row.status
            )
    task = ctx.task
    if task.created_at is not None and slot < task.created_at:
        return SlotExplanation(slot, WhyOutcome.NO_RECORD, f"before the task was added ({ctx.local(task.created_at)})")
    stopped = _stopped_at(slot, ctx)
    if stopped is not None:
        return stopped
    if task.next_run_at is not None and task.next_run_at <= slot and task.active:
        return _not_planned(slot, ctx)
    edit = next((c for c in ctx.changes if c.action == "schedule" and c.at > slot), None)
    if edit is not None:
        return SlotExplanation(
            slot,
            WhyOutcome.NO_RECORD,
            f"not a slot of the schedule then: {edit.actor} changed the schedule at {ctx.local(edit.at)}",
            actor=edit.actor,
        )
    return SlotExplanation(slot, WhyOutcome.NO_RECORD, "no row for this slot (deleted, or written by no runner)")


def _stopped_at(slot: datetime, ctx: WhyContext) -> SlotExplanation | None:
    """Paused or disabled at ``slot``, by the audit log, else by the task's flags now."""
    before = [c for c in ctx.changes if c.action in _STATE_ACTIONS and c.at <= slot]
    after = [c for c in ctx.changes if c.action in _STATE_ACTIONS and c.at > slot]
    paused = _state_at(before, "pause", "resume")
    disabled = _state_at(before, "disable", "enable")
    task = ctx.task
    if paused is None and not any(c.action in ("pause", "resume") for c in after) and task.paused:
        return SlotExplanation(slot, WhyOutcome.PAUSED, "paused (the audit log does not say when or by whom)")
    if disabled is None and not any(c.action in ("disable", "enable") for c in after) and not task.spec.enabled:
        return SlotExplanation(slot, WhyOutcome.DISABLED, "disabled (the audit log does not say when or by whom)")
    for change, outcome, undo in ((disabled, WhyOutcome.DISABLED, "enable"), (paused, WhyOutcome.PAUSED, "resume")):
        if change is None:
            continue
        text = f"{outcome.value} by {change.actor} at {ctx.local(change.at)}"
        back = next((c for c in after if c.action == undo), None)
        text += f"; {undo}d by {back.actor} at {ctx.local(back.at)}" if back else f"; still {outcome.value}"
        return SlotExplanation(slot, outcome, text, actor=change.actor)
    return None


def _state_at(before: Sequence[FlagChange], on: str, off: str) -> FlagChange | None:
    """The change that put the task into ``on`` if that is its state after ``before``, else None."""
    latest = next((c for c in reversed(before) if c.action in (on, off)), None)
    return latest if latest is not None and latest.action == on else None


def _not_planned(slot: datetime, ctx: WhyContext) -> SlotExplanation:
    """A due slot no runner has planned yet."""
    alive = ctx.alive_runners(ctx.now)
    spec = ctx.task.spec
    if spec.nodes and not ctx.matching(alive):
        pinned = ", ".join(spec.nodes)
        known = ctx.matching(ctx.runners)
        if known:
            newest = max(known, key=lambda r: r.last_beat)
            seen = f"; the last of them, {newest.name}, beat at {ctx.local(newest.last_beat)}"
        else:
            seen = "; no runner with that name or tag has ever run"
            if alive:
                seen += f" (alive: {', '.join(_described(r.name, r.tags) for r in alive)})"
        return SlotExplanation(slot, WhyOutcome.NO_RUNNER, f"runs only on {pinned}{seen}")
    if alive and ctx.now - slot <= ctx.runner_fresh:
        return SlotExplanation(slot, WhyOutcome.WAITING, "due; a runner is alive and plans it at its next pass")
    if alive:
        names = ", ".join(r.name for r in alive)
        return SlotExplanation(
            slot,
            WhyOutcome.WAITING,
            f"not planned although {names} {'is' if len(alive) == 1 else 'are'} alive: draining, or failing to "
            "claim (see smartcron nodes and smartcron health)",
        )
    newest_beat = max((r.last_beat for r in ctx.runners), default=None)
    if newest_beat is None:
        return SlotExplanation(slot, WhyOutcome.MISSED, "no runner has ever run: nothing plans the task's slots")
    return SlotExplanation(
        slot,
        WhyOutcome.MISSED,
        f"no runner alive from {ctx.local(newest_beat)} to now: not planned yet "
        f"(catchup = {spec.catchup.value} decides when a runner is back)",
    )


def _described(name: str, tags: Sequence[str]) -> str:
    return f"{name} (tags {', '.join(tags)})" if tags else name
