from __future__ import annotations

from pydantic import BaseModel, Field


class LeaderboardEntry(BaseModel):
    rank: int = Field(description="1 is best; equal scores share a rank")
    team: str
    submission_id: str
    overall: float | None
    scores: dict[str, float]


class Leaderboard(BaseModel):
    suite: str
    entries: list[LeaderboardEntry]
