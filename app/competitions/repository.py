from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.competitions.models import Competition, Phase, Track
from app.kit.repository import Repository


class CompetitionRepository(Repository[Competition]):
    model = Competition

    def by_slug(self, slug: str) -> Competition | None:
        return self.one_or_none(select(Competition).where(Competition.slug == slug))

    def all_by_slug(self) -> Sequence[Competition]:
        return self.all(select(Competition).order_by(Competition.slug))


class TrackRepository(Repository[Track]):
    model = Track

    def for_competition(self, competition_id: str) -> Sequence[Track]:
        stmt = select(Track).where(Track.competition_id == competition_id).order_by(Track.position)
        return self.all(stmt)


class PhaseRepository(Repository[Phase]):
    model = Phase

    def for_competition(self, competition_id: str) -> Sequence[Phase]:
        stmt = select(Phase).where(Phase.competition_id == competition_id).order_by(Phase.position)
        return self.all(stmt)
