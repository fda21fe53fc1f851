from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.competitions.models import Competition
from app.competitions.repository import CompetitionRepository, PhaseRepository, TrackRepository
from app.competitions.service import is_open
from app.kit.db import utcnow
from app.kit.deps import SessionDep
from app.kit.errors import NotFound

router = APIRouter(prefix="/api/v1/competitions", tags=["competitions"])


class TrackRead(BaseModel):
    slug: str
    title: str


class PhaseRead(BaseModel):
    slug: str
    title: str
    suite: str
    hidden_scenarios: list[str]
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


def _read(session: SessionDep, competition_id: str) -> CompetitionRead:
    competition = session.get(Competition, competition_id)
    assert competition is not None
    now = utcnow()
    return CompetitionRead(
        slug=competition.slug,
        title=competition.title,
        description=competition.description,
        tracks=[
            TrackRead(slug=t.slug, title=t.title)
            for t in TrackRepository(session).for_competition(competition.id)
        ],
        phases=[
            PhaseRead(
                slug=p.slug,
                title=p.title,
                suite=p.suite_name,
                hidden_scenarios=list(p.hidden_scenarios),
                opens_at=p.opens_at,
                closes_at=p.closes_at,
                is_open=is_open(p, now),
                protocol=p.protocol,
                port=p.port,
                weight=p.weight,
                leaderboard_mode=p.leaderboard_mode.value,
                entry_rule=p.entry_rule.value,
                quotas={
                    "per_day": p.quota_per_day,
                    "total": p.quota_total,
                    "concurrent": p.quota_concurrent,
                    "failed_per_day": p.quota_failed_per_day,
                },
            )
            for p in PhaseRepository(session).for_competition(competition.id)
        ],
    )


@router.get("", response_model=CompetitionList)
def list_competitions(session: SessionDep) -> CompetitionList:
    """Public: competitions with their tracks, phases, windows and quotas."""
    return CompetitionList(
        items=[_read(session, c.id) for c in CompetitionRepository(session).all_by_slug()]
    )


@router.get("/{slug}", response_model=CompetitionRead)
def get_competition(slug: str, session: SessionDep) -> CompetitionRead:
    competition = CompetitionRepository(session).by_slug(slug)
    if competition is None:
        raise NotFound(f"no competition {slug!r}")
    return _read(session, competition.id)
