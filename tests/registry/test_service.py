"""The registry service on every database: applying task files, single changes, next runs, audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.config import Settings
from smartcron.domain.task import TaskSpec
from smartcron.domain.taskfile import load_task_file
from smartcron.errors import NotFoundError, TaskSpecError
from smartcron.registry.service import Registry
from smartcron.store import Store
from tests.conftest import utc

REPO = Path(__file__).resolve().parents[2]
NOW = utc(2026, 3, 1, 9, 30)  # 22:30 in Auckland (NZDT, +13)
SETTINGS = Settings(timezone="UTC")


def spec(name: str = "sync", **values: object) -> TaskSpec:
    base: dict[str, object] = {"name": name, "command": ("true",), "schedule": "*/5 * * * *"}
    return TaskSpec(**(base | values))  # type: ignore[arg-type]


@pytest.fixture
def registry(store: Store) -> Registry:
    return Registry(store, SETTINGS, actor="cli:alice")


def apply(registry: Registry, specs: list[TaskSpec], *, prune: bool = False, now=NOW):
    plan = registry.plan_apply(specs, prune=prune, now=now)
    registry.apply(plan, now=now)
    return plan


def test_example_registry_registers_the_seeds_25_tasks_in_8_categories(registry: Registry, store: Store) -> None:
    specs = load_task_file(REPO / "examples" / "tasks.toml", default_timezone="UTC")
    plan = apply(registry, specs)
    assert len(plan.adds) == 25
    tasks = store.tasks.list()
    assert {task.name for task in tasks} == {spec.name for spec in specs}
    assert "sync_vend_inventory" in {task.name for task in tasks}
    assert len({task.spec.category for task in tasks}) == 8
    assert all(task.next_run_at is not None and task.next_run_at > NOW for task in tasks)


def test_applying_the_same_specs_again_changes_nothing(registry: Registry, store: Store) -> None:
    specs = load_task_file(REPO / "examples" / "tasks.toml", default_timezone="UTC")
    apply(registry, specs)
    before = {task.name: task.updated_at for task in store.tasks.list()}
    again = registry.plan_apply(specs, prune=True, now=NOW + timedelta(hours=1))
    assert again.is_empty and len(again.unchanged) == 25
    registry.apply(again, now=NOW + timedelta(hours=1))
    assert {task.name: task.updated_at for task in store.tasks.list()} == before


def test_plan_names_each_changed_field_with_old_and_new_values(registry: Registry) -> None:
    apply(registry, [spec("a", timeout=300), spec("b")])
    plan = registry.plan_apply([spec("a", timeout=600, retries=0), spec("b")], prune=False, now=NOW)
    (update,) = plan.updates
    assert update.name == "a"
    assert [(c.field, c.old, c.new) for c in update.changes] == [("timeout", 300, 600), ("retries", 3, 0)]
    assert plan.to_dict()["summary"] == {"added": 0, "changed": 1, "removed": 0, "unchanged": 1}
    assert plan.to_dict()["updates"] == [
        {
            "name": "a",
            "changes": [{"field": "timeout", "old": 300, "new": 600}, {"field": "retries", "old": 3, "new": 0}],
        }
    ]


def test_prune_removes_unlisted_tasks_but_never_builtin_ones(registry: Registry, store: Store) -> None:
    store.tasks.add(spec("smartcron.backup", schedule="0 2 * * *"), now=NOW, next_run_at=None, builtin=True)
    apply(registry, [spec("keep"), spec("old")])
    without_prune = registry.plan_apply([spec("keep")], prune=False, now=NOW)
    assert without_prune.is_empty
    plan = apply(registry, [spec("keep")], prune=True)
    assert [task.name for task in plan.removes] == ["old"]
    assert sorted(task.name for task in store.tasks.list()) == ["keep", "smartcron.backup"]


def test_apply_is_all_or_nothing(registry: Registry, store: Store) -> None:
    apply(registry, [spec("changed", timeout=60)])
    plan = registry.plan_apply([spec("first"), spec("changed", timeout=90), spec("clash")], prune=False, now=NOW)
    store.tasks.add(spec("clash", schedule="@daily"), now=NOW, next_run_at=None)  # someone else, meanwhile
    with pytest.raises(TaskSpecError, match="already exists"):
        registry.apply(plan, now=NOW)
    assert store.tasks.find("first") is None
    assert store.tasks.get("changed").spec.timeout == 60
    assert store.tasks.get("clash").spec.schedule == "@daily"


def test_plan_refuses_duplicate_and_reserved_names(registry: Registry) -> None:
    with pytest.raises(TaskSpecError, match="duplicate name"):
        registry.plan_apply([spec("a"), spec("a")], prune=False, now=NOW)
    with pytest.raises(TaskSpecError, match="reserved"):
        registry.plan_apply([spec("smartcron.mine")], prune=False, now=NOW)


def test_new_task_runs_at_its_first_slot_strictly_after_now(registry: Registry) -> None:
    on_a_slot = utc(2026, 3, 1, 9, 30)  # */5 fires at 09:30 itself: the next run is 09:35
    task = registry.add(spec("a"), now=on_a_slot)
    assert task.next_run_at == utc(2026, 3, 1, 9, 35)


def test_next_run_is_computed_in_the_tasks_time_zone(registry: Registry) -> None:
    task = registry.add(spec("report", schedule="0 7 * * *", timezone="Pacific/Auckland"), now=NOW)
    assert task.next_run_at == utc(2026, 3, 1, 18, 0)  # 07:00 NZDT on 2 March


def test_task_without_zone_uses_the_configured_default(store: Store) -> None:
    registry = Registry(store, Settings(timezone="Pacific/Auckland"), actor="cli:alice")
    task = registry.add(spec("report", schedule="0 7 * * *"), now=NOW)
    assert task.next_run_at == utc(2026, 3, 1, 18, 0)


def test_disabled_task_has_no_next_run_until_enabled(registry: Registry) -> None:
    task = registry.add(spec("a", enabled=False), now=NOW)
    assert task.next_run_at is None
    enabled = registry.enable("a", now=NOW + timedelta(minutes=12))
    assert enabled.spec.enabled and enabled.next_run_at == utc(2026, 3, 1, 9, 45)


def test_resumed_task_does_not_catch_up_slots_missed_while_paused(registry: Registry, store: Store) -> None:
    registry.add(spec("a"), now=NOW)
    paused = registry.pause("a", now=NOW + timedelta(minutes=1))
    assert paused.paused and paused.next_run_at is None
    resumed = registry.resume("a", now=NOW + timedelta(hours=3, minutes=2))
    assert not resumed.paused and resumed.next_run_at == utc(2026, 3, 1, 12, 35)
    actions = [(entry.actor, entry.action, entry.target) for entry in store.audit.list()]
    assert actions[:2] == [("cli:alice", "task.resume", "a"), ("cli:alice", "task.pause", "a")]


def test_pausing_twice_records_one_decision(registry: Registry, store: Store) -> None:
    registry.add(spec("a"), now=NOW)
    registry.pause("a", now=NOW)
    registry.pause("a", now=NOW)
    assert [entry.action for entry in store.audit.list()] == ["task.pause", "task.add"]


def test_disable_clears_next_run_and_is_audited(registry: Registry, store: Store) -> None:
    registry.add(spec("a"), now=NOW)
    task = registry.disable("a", now=NOW)
    assert not task.spec.enabled and task.next_run_at is None
    assert store.audit.list()[0].action == "task.disable"


def test_edit_without_schedule_change_keeps_next_run(registry: Registry, store: Store) -> None:
    registry.add(spec("a"), now=NOW)
    edited = registry.edit("a", {"timeout": 60}, now=NOW + timedelta(minutes=7))
    assert edited.spec.timeout == 60 and edited.next_run_at == utc(2026, 3, 1, 9, 35)
    assert store.audit.list()[0].details == {"changes": {"timeout": {"old": 300, "new": 60}}}


def test_edit_of_schedule_moves_next_run_to_the_new_first_slot(registry: Registry) -> None:
    registry.add(spec("a"), now=NOW)
    edited = registry.edit("a", {"schedule": "0 * * * *"}, now=NOW + timedelta(minutes=1))
    assert edited.next_run_at == utc(2026, 3, 1, 10, 0)


def test_apply_keeps_next_run_unless_schedule_or_zone_changed(registry: Registry, store: Store) -> None:
    apply(registry, [spec("same"), spec("moved"), spec("zoned", schedule="0 7 * * *")])
    later = NOW + timedelta(minutes=2)
    apply(
        registry,
        [
            spec("same", timeout=5),
            spec("moved", schedule="*/10 * * * *"),
            spec("zoned", schedule="0 7 * * *", timezone="Pacific/Auckland"),
        ],
        now=later,
    )
    assert store.tasks.get("same").next_run_at == utc(2026, 3, 1, 9, 35)
    assert store.tasks.get("moved").next_run_at == utc(2026, 3, 1, 9, 40)
    assert store.tasks.get("zoned").next_run_at == utc(2026, 3, 1, 18, 0)


def test_edit_with_a_bad_value_writes_nothing(registry: Registry, store: Store) -> None:
    registry.add(spec("a"), now=NOW)
    with pytest.raises(TaskSpecError, match="field 'timeout': must be a positive number of seconds, got 0"):
        registry.edit("a", {"timeout": 0}, now=NOW)
    with pytest.raises(TaskSpecError, match="unknown key 'tiemout'; did you mean 'timeout'"):
        registry.edit("a", {"tiemout": 5}, now=NOW)
    assert store.tasks.get("a").spec.timeout == 300
    assert [entry.action for entry in store.audit.list()] == ["task.add"]


def test_edit_can_reset_a_key_to_its_default(registry: Registry) -> None:
    registry.add(spec("a", max_memory_mb=512, timeout=60), now=NOW)
    edited = registry.edit("a", {"max_memory_mb": None, "timeout": None}, now=NOW)
    assert edited.spec.max_memory_mb is None and edited.spec.timeout == 300


def test_edit_cannot_rename(registry: Registry) -> None:
    registry.add(spec("a"), now=NOW)
    with pytest.raises(TaskSpecError, match="field 'name': cannot be changed"):
        registry.edit("a", {"name": "b"}, now=NOW)


def test_builtin_task_can_be_edited_but_not_removed(registry: Registry, store: Store) -> None:
    store.tasks.add(spec("smartcron.cleanup", schedule="0 3 * * *"), now=NOW, next_run_at=None, builtin=True)
    assert registry.edit("smartcron.cleanup", {"timeout": 120}, now=NOW).spec.timeout == 120
    with pytest.raises(TaskSpecError, match="built-in"):
        registry.remove("smartcron.cleanup", now=NOW)
    assert store.tasks.find("smartcron.cleanup") is not None


def test_remove_is_audited_with_the_removed_definition(registry: Registry, store: Store) -> None:
    registry.add(spec("a", timeout=42), now=NOW)
    registry.remove("a", now=NOW)
    assert store.tasks.find("a") is None
    entry = store.audit.list()[0]
    assert entry.action == "task.remove" and entry.details and entry.details["spec"]["timeout"] == 42


def test_changes_to_a_missing_task_say_so(registry: Registry) -> None:
    for change in (registry.pause, registry.resume, registry.enable, registry.disable, registry.remove):
        with pytest.raises(NotFoundError, match="no task named 'ghost'"):
            change("ghost", now=NOW)


def test_add_refuses_a_reserved_name_and_a_taken_one(registry: Registry) -> None:
    with pytest.raises(TaskSpecError, match="reserved"):
        registry.add(spec("smartcron.x"), now=NOW)
    registry.add(spec("a"), now=NOW)
    with pytest.raises(TaskSpecError, match="already exists"):
        registry.add(replace(spec("a"), timeout=5), now=NOW)


def test_next_runs_lists_consecutive_slots(registry: Registry) -> None:
    runs = registry.next_runs(spec("a", schedule="0 */4 * * *"), NOW, 3)
    assert runs == [utc(2026, 3, 1, 12), utc(2026, 3, 1, 16), utc(2026, 3, 1, 20)]
