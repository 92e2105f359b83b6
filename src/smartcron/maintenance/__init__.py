"""Maintenance: log rotation, retention, backups, database upkeep, reports, built-in tasks."""
