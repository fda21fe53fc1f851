from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, TimestampMixin


class AuditEntry(IdMixin, TimestampMixin, Base):
    """One admin action: who did what to which object, and with which arguments."""

    __tablename__ = "audit_log"

    actor_token_id: Mapped[str | None] = mapped_column(String(32), default=None)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(100), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
