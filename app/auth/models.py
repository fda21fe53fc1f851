from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.kit.db import Base, IdMixin, TimestampMixin


class Role(enum.StrEnum):
    team = "team"
    organizer = "organizer"
    admin = "admin"
    worker = "worker"
    """A worker on another host: may fetch build contexts and weights, nothing else."""


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(320), default=None)
    """Whom the organizers write to about the team (from `podium admin import-teams`)."""


class TeamMember(IdMixin, TimestampMixin, Base):
    """A person of a team. Each member gets their own tokens, so one can be revoked (someone
    left, a laptop was lost) without cutting off the rest of the team."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), default=None)


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token. Only its sha256 is stored; the plain token is shown once, at creation."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[str | None] = mapped_column(
        ForeignKey("team_members.id", ondelete="CASCADE"), default=None
    )
    """The member this token was made for; None for a team's shared token and for staff."""
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team | None] = relationship(lazy="raise")
