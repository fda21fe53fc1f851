from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
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


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token. Only its sha256 is stored; the plain token is shown once, at creation."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team | None] = relationship(lazy="raise")
