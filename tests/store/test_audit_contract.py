"""The audit log on every database: entries kept as written, newest first, paged by id."""

from __future__ import annotations

from smartcron.store.audit import AuditRecord
from tests.conftest import utc


def test_recorded_entry_reads_back_as_written(store):
    details = {"changes": {"timeout": {"old": 300, "new": 600}}, "note": "Māori café ✓"}
    store.audit.record("cli:alice", "task.edit", "payroll_sync", details, now=utc(2026, 3, 1, 9, 30, 15))
    (entry,) = store.audit.list()
    assert (entry.actor, entry.action, entry.target, entry.details) == (
        "cli:alice",
        "task.edit",
        "payroll_sync",
        details,
    )
    assert entry.at == utc(2026, 3, 1, 9, 30, 15)


def test_entry_without_details_or_target_keeps_them_empty(store):
    store.audit.record("web:bob", "settings.change", None, None, now=utc(2026, 3, 1))
    (entry,) = store.audit.list()
    assert entry.target is None and entry.details is None


def test_entries_are_listed_newest_first_and_paged_by_id(store):
    for minute in range(5):
        store.audit.record("cli:alice", "task.pause", f"task{minute}", None, now=utc(2026, 3, 1, 9, minute))
    first_page = store.audit.list(limit=2)
    assert [entry.target for entry in first_page] == ["task4", "task3"]
    second_page = store.audit.list(limit=2, before_id=first_page[-1].id)
    assert [entry.target for entry in second_page] == ["task2", "task1"]
    assert [entry.target for entry in store.audit.list(limit=10, before_id=second_page[-1].id)] == ["task0"]


def test_entries_can_be_narrowed_to_one_target(store):
    store.audit.record_many(
        [
            AuditRecord("cli:a", "task.pause", "x"),
            AuditRecord("cli:a", "task.pause", "y"),
            AuditRecord("cli:a", "task.resume", "x"),
        ],
        now=utc(2026, 3, 1),
    )
    assert [entry.action for entry in store.audit.list(target="x")] == ["task.resume", "task.pause"]


def test_overlong_actor_and_target_are_clipped_not_refused(store):
    store.audit.record("cli:" + "a" * 300, "task.add", "t" * 400, None, now=utc(2026, 3, 1))
    (entry,) = store.audit.list()
    assert len(entry.actor) == 128 and len(entry.target or "") == 255


def test_entries_serialise_for_json(store):
    store.audit.record("cli:alice", "task.add", "a", {"spec": {"timeout": 5}}, now=utc(2026, 3, 1, 12))
    (entry,) = store.audit.list()
    assert entry.to_dict() | {"id": 0} == {
        "id": 0,
        "at": "2026-03-01T12:00:00+00:00",
        "actor": "cli:alice",
        "action": "task.add",
        "target": "a",
        "details": {"spec": {"timeout": 5}},
    }
