from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, TimestampMixin


class LeaderboardMode(enum.StrEnum):
    mean = "mean"
    winrate = "winrate"
    neurips2023 = "neurips2023"


class EntryRule(enum.StrEnum):
    best = "best"
    latest = "latest"


class Competition(IdMixin, TimestampMixin, Base):
    __tablename__ = "competitions"

    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    webhook_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The applied TOML, as parsed: what `podium admin apply` was given last."""


class Track(IdMixin, TimestampMixin, Base):
    """A separately ranked division (the challenge had "A100" and "4090")."""

    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("competition_id", "slug"),)

    competition_id: Mapped[str] = mapped_column(
        ForeignKey("competitions.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Phase(IdMixin, TimestampMixin, Base):
    """A period of the competition with its suite, visibility, limits and quotas."""

    __tablename__ = "phases"
    __table_args__ = (UniqueConstraint("competition_id", "slug"),)

    competition_id: Mapped[str] = mapped_column(
        ForeignKey("competitions.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    suite_name: Mapped[str] = mapped_column(String(100))
    suite_conf: Mapped[str | None] = mapped_column(Text, default=None)
    """The text of the phase's HELM conf file when its suite is one (`suite_name` is then
    `conf:<slug>`); None for a registered suite."""
    hidden_scenarios: Mapped[list[str]] = mapped_column(JSON, default=list)
    opens_at: Mapped[datetime | None] = mapped_column(default=None)
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    protocol: Mapped[str] = mapped_column(String(50), default="neurips2023")
    context_window: Mapped[int | None] = mapped_column(Integer, default=None)
    """Tokens the servers of this phase accept; None keeps the suite's (2048, as HELM)."""
    port: Mapped[int] = mapped_column(Integer, default=80)
    sandbox: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Overrides of the worker's sandbox settings (Settings field name -> value)."""
    quota_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    quota_total: Mapped[int | None] = mapped_column(Integer, default=None)
    quota_concurrent: Mapped[int | None] = mapped_column(Integer, default=None)
    quota_failed_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    leaderboard_mode: Mapped[LeaderboardMode] = mapped_column(
        Enum(LeaderboardMode, native_enum=False, length=20), default=LeaderboardMode.mean
    )
    entry_rule: Mapped[EntryRule] = mapped_column(
        Enum(EntryRule, native_enum=False, length=20), default=EntryRule.best
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    """Weight of this phase's stage score in the competition's overall (winrate) ranking."""


class TeamQuotaLock(Base):
    """One row per (team, phase), locked while a submission is counted against the quotas, so
    parallel uploads of one team are counted one after the other."""

    __tablename__ = "team_quota_locks"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    phase_id: Mapped[str] = mapped_column(
        ForeignKey("phases.id", ondelete="CASCADE"), primary_key=True
    )
    counter: Mapped[int] = mapped_column(Integer, default=0)
