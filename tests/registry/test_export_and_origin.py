"""Exporting the registry as a task file that `apply` takes back unchanged, and the origin each
task keeps, on every database."""

from __future__ import annotations

import tomllib

import pytest

from smartcron.config import Settings
from smartcron.domain.enums import CatchupPolicy, OverlapPolicy
from smartcron.domain.task import TaskOrigin, TaskSpec
from smartcron.domain.taskfile import parse_task_file
from smartcron.registry.export import export_task_file
from smartcron.registry.service import Registry
from smartcron.store import Store
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)
SETTINGS = Settings(timezone="Pacific/Auckland")

EVERY_FIELD = TaskSpec(
    name="payroll.sync-2",
    command=('php /var/www/jobs/payroll.php --since "last monday" | tee -a /tmp/out \\ # ünïcode',),
    schedule="H H(0-5) ? * MON-FRI",
    category="payroll",
    description='Pays people.\nTwo lines, "quotes", a tab\tand a backslash \\',
    shell=True,
    working_dir="/var/www/jobs dir",
    env=(("DSN", "mysql://u:p@h/db?x=1&y=2"), ("EMPTY", ""), ("LANG", "C.UTF-8"), ("NOTE", "é = ü; #not a comment")),
    timezone="America/Santiago",
    enabled=False,
    priority=1,
    notify_on_failure=False,
    timeout=7200,
    kill_grace=30,
    retries=5,
    retry_delay=60,
    retry_max_delay=1800,
    fatal_exit_codes=(2, 64, 78),
    max_memory_mb=2048,
    max_cpu_seconds=3600,
    nice=-5,
    overlap=OverlapPolicy.QUEUE,
    catchup=CatchupPolicy.ALL,
    starting_deadline=900,
    max_output_kb=512,
    notify_emails=("ops@example.com", "payroll@example.com"),
    nodes=("db-1", "gpu"),
    retry_unknown_outcome=True,
)
ARGV = TaskSpec(
    name="backup",
    command=("/usr/local/bin/backup", "--label", 'it\'s "full"', "--"),
    schedule="0 2 15W * *",
)
PLAIN = TaskSpec(name="plain", command=("true",), schedule="*/5 * * * *")


@pytest.fixture
def registry(store: Store) -> Registry:
    return Registry(store, SETTINGS, actor="cli:alice")


def _apply(registry: Registry, specs: list[TaskSpec], *, prune: bool = False) -> None:
    registry.apply(registry.plan_apply(specs, prune=prune, now=NOW), now=NOW)


def test_an_exported_registry_applies_back_unchanged(registry: Registry, store: Store) -> None:
    _apply(registry, [EVERY_FIELD, ARGV, PLAIN])
    registry.pause("backup", now=NOW)
    store.tasks.add(TaskSpec("smartcron.cleanup", ("smartcron",), "@daily"), now=NOW, next_run_at=None, builtin=True)
    before = {task.name: (task.spec, task.updated_at, task.next_run_at) for task in store.tasks.list()}

    text = export_task_file(store.tasks.list(), now=NOW, source=store.url)

    specs = parse_task_file(text, default_timezone=SETTINGS.timezone)
    assert sorted(specs, key=lambda s: s.name) == sorted([EVERY_FIELD, ARGV, PLAIN], key=lambda s: s.name)
    plan = registry.plan_apply(specs, prune=True, now=NOW)
    assert plan.is_empty and not plan.removes and not plan.adopted
    registry.apply(plan, now=NOW)
    assert {task.name: (task.spec, task.updated_at, task.next_run_at) for task in store.tasks.list()} == before


def test_export_writes_only_what_differs_from_the_defaults_and_notes_paused_tasks(
    registry: Registry, store: Store
) -> None:
    _apply(registry, [PLAIN, ARGV])
    registry.pause("backup", now=NOW)
    text = export_task_file(store.tasks.list(), now=NOW, source="sqlite:///x.db")
    assert tomllib.loads(text)["task"] == [
        {"name": "backup", "command": list(ARGV.command), "schedule": "0 2 15W * *"},
        {"name": "plain", "command": ["true"], "schedule": "*/5 * * * *"},
    ]
    assert (
        '# paused (not a task-file key): `smartcron tasks resume NAME` to resume it\n[[task]]\nname = "backup"' in text
    )
    assert text.startswith("# Task file exported from sqlite:///x.db at 2026-03-01T09:30:00+00:00")


def test_an_empty_registry_exports_an_empty_task_file(store: Store) -> None:
    text = export_task_file(store.tasks.list(), now=NOW, source="db")
    assert tomllib.loads(text) == {}
    assert parse_task_file(text, default_timezone="UTC") == []


def test_tasks_remember_where_they_were_declared(store: Store) -> None:
    Registry(store, SETTINGS, actor="cli:alice").add(PLAIN, now=NOW)
    Registry(store, SETTINGS, actor="web:bob").add(TaskSpec("from_web", ("true",), "@daily"), now=NOW)
    Registry(store, SETTINGS, actor="api:deploy-token").add(TaskSpec("from_api", ("true",), "@daily"), now=NOW)
    Registry(store, SETTINGS, actor="cli:alice").add(
        TaskSpec("from_file", ("true",), "@daily"), now=NOW, origin=TaskOrigin.FILE
    )
    Registry(store, SETTINGS, actor="someone").add(TaskSpec("mystery", ("true",), "@daily"), now=NOW)
    _apply(Registry(store, SETTINGS, actor="cli:alice"), [TaskSpec("applied", ("true",), "@daily")])
    store.tasks.add(TaskSpec("smartcron.vacuum", ("smartcron",), "@weekly"), now=NOW, next_run_at=None, builtin=True)
    assert {task.name: task.origin for task in store.tasks.list()} == {
        "plain": TaskOrigin.CLI,
        "from_web": TaskOrigin.WEB,
        "from_api": TaskOrigin.API,
        "from_file": TaskOrigin.FILE,
        "mystery": None,
        "applied": TaskOrigin.FILE,
        "smartcron.vacuum": TaskOrigin.BUILTIN,
    }


def test_a_task_a_file_changes_or_lists_becomes_the_files(registry: Registry, store: Store) -> None:
    registry.add(PLAIN, now=NOW)
    registry.add(TaskSpec("listed", ("true",), "@daily"), now=NOW)
    plan = registry.plan_apply(
        [TaskSpec("plain", ("true",), "@hourly"), TaskSpec("listed", ("true",), "@daily")], prune=False, now=NOW
    )
    assert [task.name for task in plan.adopted] == ["listed"]
    registry.apply(plan, now=NOW)
    assert store.tasks.get("plain").origin is TaskOrigin.FILE
    listed = store.tasks.get("listed")
    assert listed.origin is TaskOrigin.FILE and listed.updated_at == NOW


def test_a_prune_plan_tells_tasks_made_elsewhere_from_tasks_a_file_gave_up(registry: Registry, store: Store) -> None:
    _apply(registry, [PLAIN, TaskSpec("given_up", ("true",), "@daily")])
    registry.add(TaskSpec("made_by_hand", ("true",), "@daily"), now=NOW)
    Registry(store, SETTINGS, actor="web:bob").add(TaskSpec("made_on_the_web", ("true",), "@daily"), now=NOW)
    plan = registry.plan_apply([PLAIN], prune=True, now=NOW)
    assert [task.name for task in plan.removes] == ["given_up", "made_by_hand", "made_on_the_web"]
    assert [task.name for task in plan.removes_made_elsewhere] == ["made_by_hand", "made_on_the_web"]
    assert plan.to_dict()["removes_made_elsewhere"] == {"made_by_hand": "cli", "made_on_the_web": "web"}
