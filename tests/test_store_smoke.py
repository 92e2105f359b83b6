from __future__ import annotations

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from tests.conftest import utc


def test_a_slot_is_claimed_once_on_every_database(store: Store) -> None:
    now = utc(2026, 1, 1, 12)
    task = store.tasks.add(TaskSpec(name="t", command=("true",), schedule="* * * * *"), now=now, next_run_at=now)
    claim = SlotClaim(task.id, now, Trigger.SCHEDULE)
    first = store.executions.claim([claim], node="a", token="tok-a", now=now)
    second = store.executions.claim([claim], node="b", token="tok-b", now=now)
    assert [x.status for x in first] == [ExecutionStatus.SCHEDULED]
    assert second == []
    assert store.executions.get(first[0].id).scheduled_for == now
