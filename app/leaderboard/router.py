from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from app.kit.deps import OptionalPrincipal, SessionDep
from app.leaderboard import service
from app.leaderboard.schemas import Leaderboard

router = APIRouter(prefix="/api/v1/leaderboard", tags=["leaderboard"])


@router.get("", response_model=Leaderboard)
def get_leaderboard(
    session: SessionDep,
    principal: OptionalPrincipal,
    competition: str | None = None,
    track: str | None = None,
    phase: str | None = Query(None, description="A phase slug, or `overall`"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
    format: Literal["json", "csv"] = "json",
) -> Leaderboard | Response:
    """Public. Hidden scenarios are shown to organizers only. `format=csv` exports the page."""
    board = service.leaderboard(
        session,
        competition=competition,
        track=track,
        phase=phase,
        show_hidden=principal is not None and principal.can_read_everything,
        page=page,
        per_page=per_page,
    )
    if format == "csv":
        return Response(
            service.to_csv(board),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="leaderboard.csv"'},
        )
    return board
