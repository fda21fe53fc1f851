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
    competition: str | None = Field(
        description="Competition slug; `default` is the board of submissions made outside any "
        "competition"
    )
    track: str | None
    phase: str | None = Field(description="Phase slug, `overall` (weighted over phases) or None")
    mode: str
    entry_rule: str
    scenarios: list[str]
    tracks: list[str] = []
    phases: list[str] = []
    competitions: list[str] = Field(
        [],
        description="Every board to choose from with `competition=`: the competitions, and "
        "`default` while it holds scored submissions (or no competition exists)",
    )
    picked: list[str] = Field(
        [],
        description="Which of competition, track, phase the server picked because the request "
        "left them out",
    )
    note: str | None = Field(
        None, description="In words: which board was picked for you, and the others"
    )
    total: int = Field(description="Ranked entries in all pages")
    page: int
    per_page: int
    entries: list[LeaderboardEntry]
