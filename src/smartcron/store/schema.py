"""The tables. Names follow the seed (``smart_cron_*``) so people who know the old system find their way.

Times are ``UtcDateTime``. Rows that grow with history (executions, metrics, health checks) are kept
narrow: the full output of a run lives in its log file, the row keeps a bounded tail.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from smartcron.store.types import ID, JsonText, LongText, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tasks = Table(
    "smart_cron_tasks_config",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("category", String(64), nullable=False, server_default="default"),
    Column("description", Text, nullable=False, server_default=""),
    Column("command", JsonText, nullable=False),
    Column("shell", Boolean, nullable=False, server_default=false()),
    Column("working_dir", String(1024)),
    Column("env", JsonText),
    Column("schedule", String(255), nullable=False),
    Column("timezone", String(64)),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("builtin", Boolean, nullable=False, server_default=false()),
    Column("priority", SmallInteger, nullable=False, server_default="2"),
    Column("notify_on_failure", Boolean, nullable=False, server_default=true()),
    Column("timeout", Integer, nullable=False, server_default="300"),
    Column("kill_grace", Integer, nullable=False, server_default="10"),
    Column("retries", Integer, nullable=False, server_default="3"),
    Column("retry_delay", Integer, nullable=False, server_default="30"),
    Column("retry_max_delay", Integer, nullable=False, server_default="900"),
    Column("fatal_exit_codes", JsonText),
    Column("max_memory_mb", Integer),
    Column("max_cpu_seconds", Integer),
    Column("nice", SmallInteger),
    Column("overlap", String(16), nullable=False, server_default="forbid"),
    Column("catchup", String(16), nullable=False, server_default="latest"),
    Column("starting_deadline", Integer),
    Column("max_output_kb", Integer, nullable=False, server_default="10240"),
    Column("notify_emails", JsonText),
    Column("nodes", JsonText),
    Column("retry_unknown_outcome", Boolean, nullable=False, server_default=false()),
    # Where the task was declared: file, cli, api, web, exec, builtin (NULL: before this was kept).
    Column("origin", String(16)),
    # `smartcron exec` tasks: another scheduler (a crontab) starts them; the schedule only tells
    # when a run is late or missed.
    Column("scheduled_elsewhere", Boolean, nullable=False, server_default=false()),
    Column("next_run_at", UtcDateTime),
    Column("last_execution_id", ID),
    Column("last_status", String(16)),
    Column("last_started_at", UtcDateTime),
    Column("last_finished_at", UtcDateTime),
    Column("last_duration_ms", Integer),
    Column("last_success_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
# Due tasks in the order they are taken (with the id, InnoDB's implicit suffix): a claim that locks
# the due tasks reads them in this order and stops at its limit, so it locks no more than it takes.
Index(None, tasks.c.next_run_at, tasks.c.priority)

executions = Table(
    "smart_cron_executions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("task_id", ID, ForeignKey("smart_cron_tasks_config.id", ondelete="CASCADE"), nullable=False),
    Column("scheduled_for", UtcDateTime, nullable=False),
    Column("attempt", SmallInteger, nullable=False, server_default="0"),
    Column("trigger", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(255)),
    Column("exit_code", SmallInteger),
    Column("signal", SmallInteger),
    Column("error_category", String(12)),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("duration_ms", Integer),
    Column("cpu_user_ms", Integer),
    Column("cpu_sys_ms", Integer),
    Column("max_rss_kb", Integer),
    # When the peak is known only to lie below a bound (the spawner's own high-water mark): KiB.
    Column("max_rss_kb_below", Integer),
    Column("output", LongText),
    Column("output_bytes", ID),
    Column("truncated", Boolean),
    # Supervision fields: set while the run is alive, cleared when it ends (they only matter then).
    Column("pid", Integer),
    Column("pgid", Integer),
    Column("proc_start", ID),
    Column("node", String(64)),
    Column("lease_token", String(32)),
    Column("lease_expires_at", UtcDateTime),
    Column("retry_of", ID),
    # A person asked for the run to stop; its runner acts on it at its next lease renewal.
    Column("cancel_requested_at", UtcDateTime),
    Column("cancel_requested_by", String(128)),
    UniqueConstraint("task_id", "scheduled_for", "attempt"),
)
# Recent runs and runs per minute read by finish time; retention deletes by it.
Index(None, executions.c.finished_at)
# Live rows only (scheduled, running): small, and what runners and the health monitor scan.
Index(
    "ix_smart_cron_executions_live",
    executions.c.status,
    sqlite_where=executions.c.status.in_(["scheduled", "running"]),
    postgresql_where=executions.c.status.in_(["scheduled", "running"]),
)

alerts = Table(
    "smart_cron_alerts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("task_id", ID, ForeignKey("smart_cron_tasks_config.id", ondelete="CASCADE")),
    # (kind, task) of an alert that is not resolved; NULL once resolved, so the unique key allows
    # one open alert per (task, kind) and any number of resolved ones on every database.
    Column("open_key", String(200), unique=True),
    Column("severity", String(10), nullable=False),
    Column("state", String(14), nullable=False),
    Column("message", Text, nullable=False),
    Column("details", JsonText),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    # When a message about the alert is next owed (first mail, reminder, or "resolved");
    # NULL when none is. The dispatcher claims it by moving this forward (compare-and-swap).
    Column("notify_after", UtcDateTime),
    Column("notified_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("acknowledged_by", String(128)),
    Column("resolved_at", UtcDateTime),
    # No message is sent about it before this (a person snoozed it).
    Column("snoozed_until", UtcDateTime),
)
Index(None, alerts.c.state, alerts.c.last_seen)
# The dispatcher's question each second: which alerts owe a message now.
Index(None, alerts.c.notify_after)

notifications = Table(
    "smart_cron_notifications",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alert_id", ID, ForeignKey("smart_cron_alerts.id", ondelete="CASCADE")),
    Column("kind", String(16), nullable=False),  # alert, reminder, resolved, digest, test, report
    Column("channel", String(255), nullable=False),  # "email" or an apprise URL id
    Column("recipients", JsonText),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(10), nullable=False),  # pending, sending, sent, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
)
Index(None, notifications.c.state, notifications.c.next_attempt_at)

alert_rules = Table(
    "smart_cron_alert_rules",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),  # long_run, failure_rate, no_success, short_run
    Column("task_id", ID, ForeignKey("smart_cron_tasks_config.id", ondelete="CASCADE")),
    Column("threshold", Float, nullable=False),
    Column("window_seconds", Integer),
    Column("min_runs", Integer),  # failure_rate: fewer runs in the window say nothing
    Column("severity", String(10), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
)

metrics = Table(
    "smart_cron_metrics",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("value", Float, nullable=False),
    Column("node", String(64)),
)
Index(None, metrics.c.name, metrics.c.at)

health_checks = Table(
    "smart_cron_health_checks",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column("value", Float),
    Column("message", String(500), nullable=False),
    Column("node", String(64)),
)
Index(None, health_checks.c.at)
Index(None, health_checks.c.check_name, health_checks.c.at)

nodes = Table(
    "smart_cron_nodes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), primary_key=True),  # runner, tick, health
    Column("pid", Integer),
    Column("started_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("version", String(32)),
    Column("info", JsonText),
    # `smartcron nodes drain`: the node stops claiming, finishes what runs, and exits.
    Column("drain_requested_at", UtcDateTime),
    Column("drain_requested_by", String(128)),
)

chore_slots = Table(
    "smart_cron_chore_slots",
    metadata,
    # Chores every node could do (health checks, alert rules) are done by one node per slot: the
    # one whose insert of (chore, slot) wins.
    Column("chore", String(32), primary_key=True),
    Column("slot", UtcDateTime, primary_key=True),
    Column("node", String(64), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

silences = Table(
    "smart_cron_silences",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # A task, a rule, or both NULL for everything; no message is sent for matching alerts until `until`.
    Column("task_id", ID, ForeignKey("smart_cron_tasks_config.id", ondelete="CASCADE")),
    Column("rule_id", ID, ForeignKey("smart_cron_alert_rules.id", ondelete="CASCADE")),
    Column("until", UtcDateTime, nullable=False),
    Column("reason", String(255)),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index(None, silences.c.until)

users = Table(
    "smart_cron_users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_login_at", UtcDateTime),
    Column("timezone", String(64)),  # the zone this user reads times in (NULL: the installation's)
)

api_tokens = Table(
    "smart_cron_api_tokens",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
)

audit_log = Table(
    "smart_cron_audit_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255)),
    Column("details", JsonText),
)
Index(None, audit_log.c.at)

settings_kv = Table(
    "smart_cron_settings",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JsonText),
    Column("updated_at", UtcDateTime, nullable=False),
)
