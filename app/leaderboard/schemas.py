from __future__ import annotations

from pydantic import BaseModel, Field


class LeaderboardEntry(BaseModel):
    rank: int | None = Field(description="1 is best; equal scores share a rank; None: baseline")
    team: str
    submission_id: str
    overall: float | None = Field(description="The ranking score (mean, or weighted win rate)")
    scores: dict[str, float | None] = Field(description="Scenario -> score (0..1)")
    is_baseline: bool = False
    latency_p50_s: float | None = None
    tokens_per_s: float | None = None


class Leaderboard(BaseModel):
    competition: str | None
    track: str | None
    phase: str | None = Field(description="Phase slug, `overall` (weighted over phases) or None")
    mode: str
    entry_rule: str
    scenarios: list[str]
    tracks: list[str] = []
    phases: list[str] = []
    total: int = Field(description="Ranked entries in all pages")
    page: int
    per_page: int
    entries: list[LeaderboardEntry]
