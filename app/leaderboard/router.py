from __future__ import annotations

from fastapi import APIRouter

from app.kit.deps import SessionDep, SettingsDep
from app.leaderboard import service
from app.leaderboard.schemas import Leaderboard

router = APIRouter(prefix="/api/v1/leaderboard", tags=["leaderboard"])


@router.get("", response_model=Leaderboard)
def get_leaderboard(session: SessionDep, settings: SettingsDep) -> Leaderboard:
    """Public: each team's best scored submission, best first."""
    return Leaderboard(suite=settings.default_suite, entries=service.leaderboard(session))
