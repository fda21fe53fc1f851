from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel

from app.audit.service import recent
from app.kit.deps import CurrentOrganizer, SessionDep
from app.kit.routing import api_router

router = api_router(prefix="/api/v1/audit", tags=["audit"])


class AuditRead(BaseModel):
    id: str
    created_at: datetime
    actor_role: str
    actor_token_id: str | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditRead]


@router.get("", response_model=AuditList)
def audit_log(
    _: CurrentOrganizer,
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> AuditList:
    """Admin actions, newest first (organizers and admins)."""
    return AuditList(
        items=[
            AuditRead(
                id=e.id,
                created_at=e.created_at,
                actor_role=e.actor_role,
                actor_token_id=e.actor_token_id,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                details=dict(e.details),
            )
            for e in recent(session, limit, offset)
        ]
    )
