"""Examples of the JSON API's answers, shown in its OpenAPI document (one realistic value per
model; ``tests/web/test_openapi_examples.py`` checks that each one is a valid instance)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

TASK: dict[str, Any] = {
    "name": "sync_vend_inventory",
    "category": "vend",
    "description": "Stock levels from Vend into the shop database",
    "schedule": "*/30 * * * *",
    "timezone": "Pacific/Auckland",
    "enabled": True,
    "paused": False,
    "builtin": False,
    "priority": 2,
    "next_run_at": "2026-03-01T12:30:00Z",
    "last_status": "success",
    "last_started_at": "2026-03-01T12:00:00.012Z",
    "last_finished_at": "2026-03-01T12:00:41.377Z",
    "last_duration_ms": 41365,
    "last_success_at": "2026-03-01T12:00:41.377Z",
    "runs_7d": 336,
    "success_rate_7d": 0.997,
}
EXECUTION: dict[str, Any] = {
    "id": 48213,
    "task": "sync_vend_inventory",
    "task_id": 12,
    "scheduled_for": "2026-03-01T12:00:00Z",
    "attempt": 0,
    "trigger": "schedule",
    "status": "failed",
    "reason": None,
    "exit_code": 1,
    "signal": None,
    "error_category": "recoverable",
    "started_at": "2026-03-01T12:00:00.012Z",
    "finished_at": "2026-03-01T12:00:03.481Z",
    "duration_ms": 3469,
    "cpu_user_ms": 310,
    "cpu_sys_ms": 42,
    "max_rss_kb": 48212,
    "output_preview": "connecting to Vend...\nERROR: 503 Service Unavailable\n",
    "output_bytes": 52,
    "truncated": False,
    "node": "app1",
    "retry_of": None,
    "cancel_requested_at": None,
    "cancel_requested_by": None,
}
ALERT: dict[str, Any] = {
    "id": 731,
    "kind": "task_failed",
    "task": "payroll_auto_start",
    "severity": "critical",
    "state": "open",
    "message": "payroll/payroll_auto_start failed (exit 1)",
    "count": 3,
    "first_seen": "2026-03-01T08:00:04Z",
    "last_seen": "2026-03-01T10:00:03Z",
    "acknowledged_at": None,
    "acknowledged_by": None,
    "resolved_at": None,
    "snoozed_until": None,
    "silenced_until": None,
}
RULE: dict[str, Any] = {
    "id": 4,
    "name": "payroll-slow",
    "kind": "long_run",
    "task": "payroll_auto_start",
    "threshold": 3600.0,
    "window_seconds": None,
    "min_runs": None,
    "severity": "high",
    "enabled": True,
    "description": "a run of payroll_auto_start longer than 1 h",
    "created_at": "2026-02-20T09:15:00Z",
}
QUEUED: dict[str, Any] = {"task": "sync_vend_inventory", "execution_id": 48214}
TASK_STATE: dict[str, Any] = {"task": "sync_vend_inventory", "paused": True, "next_run_at": None}
LOG: dict[str, Any] = {
    "execution_id": 48213,
    "found": True,
    "truncated": False,
    "text": "=== run 48213 of vend/sync_vend_inventory ===\nconnecting to Vend...\nERROR: 503 Service Unavailable\n",
}
SILENCE: dict[str, Any] = {
    "id": 9,
    "task": "nightly_backup",
    "rule": None,
    "until": "2026-03-01T14:00:00Z",
    "reason": "disk swap",
    "created_by": "web:maria",
    "created_at": "2026-03-01T12:00:00Z",
}
USER: dict[str, Any] = {
    "name": "maria",
    "role": "operator",
    "created_at": "2026-02-01T09:00:00Z",
    "last_login_at": "2026-03-01T07:58:12Z",
}
TOKEN: dict[str, Any] = {
    "name": "grafana",
    "role": "viewer",
    "created_at": "2026-02-01T09:05:00Z",
    "last_used_at": "2026-03-01T12:00:00Z",
}
NEW_TOKEN: dict[str, Any] = TOKEN | {"last_used_at": None, "token": "sct_4fQ0c1Yb8Jr2kVt7sXo9mWzL3nHpDaEeGiUyTqRw5Ck"}
DRAIN: dict[str, Any] = {
    "node": "app1",
    "message": "asked app1 to drain: it claims nothing more, finishes what runs, then stops",
}

TASK_PAGE: dict[str, Any] = {"items": [TASK], "total": 1, "offset": 0, "limit": 100}
TASK_DETAIL: dict[str, Any] = {
    "task": TASK,
    "spec": {"name": "sync_vend_inventory", "command": ["php", "/var/www/jobs/sync_vend_inventory.php"],
             "schedule": "*/30 * * * *", "timezone": "Pacific/Auckland", "timeout": 300},
    "schedule_in_words": "every 30 minutes",
    "next_runs": [{"utc": "2026-03-01T12:30:00Z", "local": "2026-03-02T01:30:00+13:00", "dst_change": None}],
    "next_runs_unavailable": None,
}  # fmt: skip
EXECUTION_PAGE: dict[str, Any] = {"items": [EXECUTION], "next_before": None}
HEALTH: dict[str, Any] = {
    "checks": [{"name": "disk_data", "status": "ok", "value": 41.5, "message": "41.5 % of /var/lib/smartcron used",
                "at": "2026-03-01T12:00:00Z", "node": "app1"}],
    "heartbeats": [{"node": "app1", "role": "runner", "heartbeat_at": "2026-03-01T12:00:00Z", "age_seconds": 0.8}],
    "scorecard": [{"name": "start lateness p99", "status": "ok", "value": 4.2, "message": "4.2 ms (target 10 ms)"}],
    "scorecard_unavailable": None,
}  # fmt: skip
SERIES: dict[str, Any] = {
    "name": "system.cpu_percent",
    "step_seconds": 300,
    "points": [{"at": "2026-03-01T11:55:00Z", "value": 12.5}, {"at": "2026-03-01T12:00:00Z", "value": 14.0}],
}
ACTIVITY: dict[str, Any] = {
    "bucket_seconds": 60,
    "buckets": [{"start": "2026-03-01T12:00:00Z", "runs": 42, "failures": 1, "failure_rate": 0.024,
                 "avg_duration_ms": 812.5}],
}  # fmt: skip


def example(value: dict[str, Any]) -> ConfigDict:
    """A model's configuration that shows ``value`` as its example."""
    return ConfigDict(json_schema_extra={"examples": [value]})
