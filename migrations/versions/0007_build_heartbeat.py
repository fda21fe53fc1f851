"""build heartbeat and attempts on submissions

A build now heart-beats like an evaluation, so the reaper can tell a build whose worker died from
one still running, re-queue it, and give up after `max_attempts` starts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("build_heartbeat_at", sa.DateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("build_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("build_attempts")
        batch_op.drop_column("build_heartbeat_at")
