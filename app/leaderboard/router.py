from __future__ import annotations

from typing import Literal

from fastapi import Query, Response

from app.kit.deps import OptionalPrincipal, SettingsDep
from app.kit.routing import api_router
from app.leaderboard import service
from app.leaderboard.schemas import Leaderboard

router = api_router(prefix="/api/v1/leaderboard", tags=["leaderboard"])


@router.get(
    "",
    response_model=Leaderboard,
    responses={200: {"content": {"text/csv": {}}, "description": "The board (JSON or CSV)"}},
)
async def get_leaderboard(
    settings: SettingsDep,
    principal: OptionalPrincipal,
    competition: str | None = None,
    track: str | None = None,
    phase: str | None = Query(None, description="A phase slug, or `overall`"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Public. Hidden scenarios are shown to organizers only. `format=csv` exports the page.

    A board read by many is answered from memory (rendered once per change or `BOARD_TTL_S`),
    without a thread or a database connection; see `service.answer_body`."""
    query = service.BoardQuery(
        competition=competition,
        track=track,
        phase=phase,
        show_hidden=principal is not None and principal.can_read_everything,
        page=page,
        per_page=per_page,
    )
    body = await service.answer_body(settings.database_url, query, format)
    if format == "csv":
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="leaderboard.csv"'},
        )
    return Response(body, media_type="application/json")
