"""executions.output as MEDIUMTEXT on MySQL/MariaDB

TEXT ends at 65,535 bytes there, and the default preview (64 KiB) is one byte more: in strict mode
such a run could never be recorded. Nothing changes on SQLite and PostgreSQL.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smartcron.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    op.alter_column(
        "smart_cron_executions",
        "output",
        type_=smartcron.store.types.LongText(),
        existing_type=sa.Text(),
        existing_nullable=True,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    op.alter_column(
        "smart_cron_executions",
        "output",
        type_=sa.Text(),
        existing_type=smartcron.store.types.LongText(),
        existing_nullable=True,
    )
