"""TaskRepository behaviour, identical on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.domain.enums import CatchupPolicy, OverlapPolicy
from smartcron.domain.task import TaskSpec
from smartcron.errors import NotFoundError, TaskSpecError
from smartcron.store import Store
from smartcron.store.tasks import TaskChange
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)


def spec(name: str = "sync", **kw: object) -> TaskSpec:
    base: dict[str, object] = {"name": name, "command": ("true",), "schedule": "*/5 * * * *"}
    return TaskSpec(**(base | kw))  # type: ignore[arg-type]


def test_every_field_of_a_spec_survives_the_round_trip(store: Store) -> None:
    full = TaskSpec(
        name="payroll_auto_start",
        command=("php", "/srv/jobs/payroll auto.php", "--ünïcode"),
        schedule="0 6 * * 1",
        category="payroll",
        description="Starts the weekly pay run",
        working_dir="/srv/jobs",
        env=(("A", "1"), ("B", "two words")),
        timezone="Pacific/Auckland",
        enabled=False,
        priority=1,
        notify_on_failure=False,
        timeout=900,
        kill_grace=5,
        retries=0,
        retry_delay=10,
        retry_max_delay=60,
        fatal_exit_codes=(2, 3),
        max_memory_mb=512,
        max_cpu_seconds=60,
        nice=10,
        overlap=OverlapPolicy.QUEUE,
        catchup=CatchupPolicy.ALL,
        starting_deadline=600,
        max_output_kb=100,
        notify_emails=("pay@example.com",),
        nodes=("node-a",),
    )
    task = store.tasks.add(full, now=NOW, next_run_at=NOW + timedelta(days=1))
    assert task.spec == full
    assert task.next_run_at == NOW + timedelta(days=1)
    assert store.tasks.get("payroll_auto_start").spec == full


def test_a_duplicate_name_is_refused_and_names_the_field(store: Store) -> None:
    store.tasks.add(spec(), now=NOW, next_run_at=NOW)
    with pytest.raises(TaskSpecError, match="field 'name'"):
        store.tasks.add(spec(), now=NOW, next_run_at=NOW)
    assert store.tasks.count() == 1


def test_apply_is_all_or_nothing(store: Store) -> None:
    store.tasks.add(spec("kept"), now=NOW, next_run_at=NOW)
    changes = [
        TaskChange("add", spec("new_one")),
        TaskChange("update", spec("kept", timeout=60)),
        TaskChange("add", spec("kept")),  # duplicate: the whole batch must roll back
    ]
    with pytest.raises(TaskSpecError, match="task 'kept', field 'name'"):
        store.tasks.apply(changes, now=NOW)
    assert [t.name for t in store.tasks.list()] == ["kept"]
    assert store.tasks.get("kept").spec.timeout == 300


def test_apply_adds_many_tasks_at_once_and_a_name_removed_may_be_added_again(store: Store) -> None:
    store.tasks.add(spec("renewed", timeout=10), now=NOW, next_run_at=NOW)
    store.tasks.add(spec("updated", timeout=10), now=NOW, next_run_at=NOW)
    later = NOW + timedelta(hours=1)
    changes = [TaskChange("add", spec(f"bulk{i:03d}", timeout=i + 1), next_run_at=later) for i in range(300)]
    changes += [
        TaskChange("add", spec("renewed", timeout=99), next_run_at=later, builtin=True),
        TaskChange("update", spec("updated", timeout=42), next_run_at=later),
        TaskChange("remove", spec("renewed")),
    ]
    store.tasks.apply(changes, now=NOW)

    tasks = {task.name: task for task in store.tasks.list()}
    assert len(tasks) == 302
    assert [tasks[f"bulk{i:03d}"].spec.timeout for i in range(300)] == list(range(1, 301))
    assert {tasks[f"bulk{i:03d}"].next_run_at for i in range(300)} == {later}
    assert (tasks["renewed"].spec.timeout, tasks["renewed"].builtin) == (99, True)
    assert (tasks["updated"].spec.timeout, tasks["updated"].next_run_at) == (42, later)


def test_due_returns_only_active_tasks_whose_slot_has_come(store: Store) -> None:
    store.tasks.add(spec("due"), now=NOW, next_run_at=NOW - timedelta(seconds=1))
    store.tasks.add(spec("later"), now=NOW, next_run_at=NOW + timedelta(seconds=1))
    store.tasks.add(spec("off", enabled=False), now=NOW, next_run_at=NOW - timedelta(hours=1))
    store.tasks.add(spec("pinned", nodes=("b",)), now=NOW, next_run_at=NOW)
    paused = store.tasks.add(spec("paused"), now=NOW, next_run_at=NOW)
    store.tasks.set_flags(paused.name, now=NOW, paused=True)
    assert [t.name for t in store.tasks.due(NOW)] == ["due", "pinned"]
    assert [t.name for t in store.tasks.due(NOW, node="a")] == ["due"]
    assert [t.name for t in store.tasks.due(NOW, node="a", tags=("x", "b"))] == ["due", "pinned"]
    assert store.tasks.next_wakeup() == NOW - timedelta(seconds=1)


def test_advance_is_a_compare_and_swap(store: Store) -> None:
    task = store.tasks.add(spec(), now=NOW, next_run_at=NOW)
    later = NOW + timedelta(minutes=5)
    assert store.tasks.advance([(task.id, NOW, later)]) == 1
    # A second runner that planned from the old value moves nothing.
    assert store.tasks.advance([(task.id, NOW, later + timedelta(minutes=5))]) == 0
    assert store.tasks.get("sync").next_run_at == later


def test_removing_an_unknown_task_says_so(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no task named 'ghost'"):
        store.tasks.remove("ghost")


def test_a_change_and_its_audit_entry_commit_together(store: Store) -> None:
    from smartcron.store.audit import AuditRecord

    store.tasks.add(spec("kept"), now=NOW, next_run_at=NOW)
    with pytest.raises(TaskSpecError):
        store.tasks.apply(
            [TaskChange("add", spec("kept"))], now=NOW, audit=[AuditRecord("cli:alice", "task.add", "kept")]
        )
    assert store.audit.list() == []
    store.tasks.set_flags("kept", now=NOW, paused=True, audit=[AuditRecord("cli:alice", "task.pause", "kept")])
    assert [(e.actor, e.action, e.target) for e in store.audit.list()] == [("cli:alice", "task.pause", "kept")]


def test_activity_flags_give_policy_state_and_whether_the_node_may_run_each_task(store: Store) -> None:
    queued = store.tasks.add(spec("queued", overlap=OverlapPolicy.QUEUE), now=NOW, next_run_at=None)
    anywhere = store.tasks.add(spec("anywhere", enabled=False), now=NOW, next_run_at=None)
    here = store.tasks.add(spec("here", nodes=("node-a",)), now=NOW, next_run_at=None)
    elsewhere = store.tasks.add(spec("elsewhere", nodes=("node-b",)), now=NOW, next_run_at=None)
    store.tasks.set_flags("here", now=NOW, paused=True)

    flags = store.tasks.activity_flags([queued.id, anywhere.id, here.id, elsewhere.id, 9999], node="node-a")

    assert {task_id: (f.overlap, f.enabled, f.paused, f.runs_here) for task_id, f in flags.items()} == {
        queued.id: (OverlapPolicy.QUEUE, True, False, True),
        anywhere.id: (OverlapPolicy.FORBID, False, False, True),
        here.id: (OverlapPolicy.FORBID, True, True, True),
        elsewhere.id: (OverlapPolicy.FORBID, True, False, False),
    }


def test_states_give_each_tasks_flags_and_next_run_by_name(store: Store) -> None:
    later = NOW + timedelta(minutes=5)
    store.tasks.add(spec("b_paused"), now=NOW, next_run_at=later)
    store.tasks.set_flags("b_paused", now=NOW, paused=True)
    store.tasks.add(spec("a_off", enabled=False), now=NOW, next_run_at=None)
    store.tasks.add(spec("c_on"), now=NOW, next_run_at=later)

    states = store.tasks.states()

    assert [(s.name, s.enabled, s.paused, s.next_run_at, s.active) for s in states] == [
        ("a_off", False, False, None, False),
        ("b_paused", True, True, later, False),
        ("c_on", True, False, later, True),
    ]


def test_activity_flags_count_a_tag_of_the_node_as_its_name(store: Store) -> None:
    tagged = store.tasks.add(spec("tagged", nodes=("gpu",)), now=NOW, next_run_at=None)
    assert not store.tasks.activity_flags([tagged.id], node="node-a")[tagged.id].runs_here
    assert store.tasks.activity_flags([tagged.id], node="node-a", tags=("gpu",))[tagged.id].runs_here
