"""board rows: the leaderboard's read model

A board request no longer loads every scored evaluation with its results and logs: `board_rows`
holds, per ranked submission, what the board shows (app/leaderboard/rows.py keeps it up to date
on every scoring event), and `board_views` each board's ranking, computed when a row changes.

Existing data is backfilled on the first board read after this migration, by the application's
own code (see `_backfill`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-21 10:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_rows",
        sa.Column(
            "submission_id",
            sa.String(32),
            sa.ForeignKey("submissions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("evaluation_id", sa.String(32), nullable=False),
        sa.Column(
            "competition_id", sa.String(32), sa.ForeignKey("competitions.id", ondelete="SET NULL")
        ),
        sa.Column("phase_id", sa.String(32), sa.ForeignKey("phases.id", ondelete="SET NULL")),
        sa.Column("track_id", sa.String(32), sa.ForeignKey("tracks.id", ondelete="SET NULL")),
        sa.Column(
            "team_id",
            sa.String(32),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("overall", sa.Float()),
        sa.Column("latency_p50_s", sa.Float()),
        sa.Column("tokens_per_s", sa.Float()),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("disqualified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_board_rows_phase_track", "board_rows", ["phase_id", "track_id"])
    op.create_index("ix_board_rows_competition_id", "board_rows", ["competition_id"])
    op.create_table(
        "board_views",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("scenarios", sa.JSON(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    _backfill()


def _backfill() -> None:
    """Submissions already scored get their rows on the first board read after this
    (`app.leaderboard.rows.backfill_if_needed`), built by the application's own code: a
    migration that imported today's models would break once they gain a column."""
    bind = op.get_bind()
    scored = bind.execute(
        sa.text("SELECT 1 FROM submissions WHERE status = 'scored' LIMIT 1")
    ).first()
    if scored is None:
        return
    views = sa.table(
        "board_views",
        sa.column("key", sa.String),
        sa.column("fingerprint", sa.String),
        sa.column("spec", sa.JSON),
        sa.column("scenarios", sa.JSON),
        sa.column("entries", sa.JSON),
        sa.column("computed_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        views,
        [
            {
                "key": "rows:backfill",
                "fingerprint": "",
                "spec": {},
                "scenarios": [],
                "entries": [],
                "computed_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("board_views")
    op.drop_index("ix_board_rows_competition_id", table_name="board_rows")
    op.drop_index("ix_board_rows_phase_track", table_name="board_rows")
    op.drop_table("board_rows")
