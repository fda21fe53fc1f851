"""a phase's HELM conf file, stored with it

A phase may name a HELM run-entry file (`suite_conf`) instead of a registered suite; its text is
kept with the phase, so workers, re-runs and rescoring build the same suite from it without
reading the organizer's files.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suite_conf", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.drop_column("suite_conf")
