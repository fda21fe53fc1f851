"""What the API shows of a competition. Hidden scenario names are for organizers only: a team
that knew them could target them (their data is public), so teams see how many there are."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TrackRead(BaseModel):
    slug: str
    title: str


class PhaseRead(BaseModel):
    slug: str
    title: str
    suite: str
    hidden_scenarios: list[str] = Field(
        description="Names of the scenarios scored but not shown to teams (organizers only; "
        "empty for everyone else)"
    )
    hidden_scenario_count: int = Field(description="How many scenarios of the suite are hidden")
    opens_at: datetime | None
    closes_at: datetime | None
    is_open: bool
    protocol: str
    port: int
    weight: float
    leaderboard_mode: str
    entry_rule: str
    quotas: dict[str, int | None]


class CompetitionRead(BaseModel):
    slug: str
    title: str
    description: str
    tracks: list[TrackRead]
    phases: list[PhaseRead]


class CompetitionList(BaseModel):
    items: list[CompetitionRead]
