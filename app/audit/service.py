from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.auth.service import Principal


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: str,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor_token_id=actor.token_id if actor else None,
        actor_role=actor.role.value if actor else "system",
        actor_label=(actor.team_name or "") if actor else "podium",
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    session.add(entry)
    session.flush()
    return entry


def recent(session: Session, limit: int = 100, offset: int = 0) -> Sequence[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.created_at.desc()).limit(limit).offset(offset)
    return session.scalars(stmt).all()
