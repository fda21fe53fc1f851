"""Competitions, public: anyone may read them; hidden scenario names only with an organizer's
or admin's token."""

from __future__ import annotations

from app.auth.service import Principal
from app.competitions import service
from app.competitions.schemas import CompetitionList, CompetitionRead
from app.kit.deps import OptionalPrincipal, SessionDep
from app.kit.routing import api_router

router = api_router(prefix="/api/v1/competitions", tags=["competitions"])


def _shows_hidden(principal: Principal | None) -> bool:
    return principal is not None and principal.can_read_everything


@router.get("", response_model=CompetitionList)
def list_competitions(session: SessionDep, principal: OptionalPrincipal) -> CompetitionList:
    """Public: competitions with their tracks, phases, windows and quotas."""
    return service.list_competitions(session, show_hidden=_shows_hidden(principal))


@router.get("/{slug}", response_model=CompetitionRead)
def get_competition(
    slug: str, session: SessionDep, principal: OptionalPrincipal
) -> CompetitionRead:
    return service.competition_by_slug(session, slug, show_hidden=_shows_hidden(principal))
