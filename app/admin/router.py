"""The admin API: what `podium admin` calls. Admin tokens only; every change is audited."""

from __future__ import annotations

from fastapi import Query

from app.admin import service
from app.admin.schemas import (
    ApplyResult,
    CompetitionApply,
    MemberCreate,
    MemberCreated,
    NewToken,
    TeamCreate,
    TeamCreated,
    TeamImport,
    TeamList,
    TeamsImported,
    TokenCreate,
    TokenList,
    TokenRead,
)
from app.competitions.schemas import CompetitionList
from app.kit.deps import CurrentAdmin, SessionDep
from app.kit.routing import api_router

router = api_router(prefix="/api/v1/admin", tags=["admin"])


@router.get("/teams", response_model=TeamList)
def list_teams(_: CurrentAdmin, session: SessionDep) -> TeamList:
    """Every team, with its members and tokens (never the tokens themselves)."""
    return service.list_teams(session)


@router.post("/teams", response_model=TeamCreated, status_code=201)
def create_team(body: TeamCreate, admin: CurrentAdmin, session: SessionDep) -> TeamCreated:
    """A team and its first token, shown once in the answer."""
    return service.create_team(session, admin, body.name, body.contact_email)


@router.post("/teams/import", response_model=TeamsImported, status_code=201)
def import_teams(body: TeamImport, admin: CurrentAdmin, session: SessionDep) -> TeamsImported:
    """Many teams from `name,email` lines, all or none: a bad line is named and nothing is
    created."""
    return service.import_teams(session, admin, body.csv)


@router.post("/teams/{team_id}/members", response_model=MemberCreated, status_code=201)
def add_member(
    team_id: str, body: MemberCreate, admin: CurrentAdmin, session: SessionDep
) -> MemberCreated:
    """A member of the team with a token of their own, shown once in the answer."""
    return service.add_member(session, admin, team_id, body.name, body.email)


@router.get("/tokens", response_model=TokenList)
def list_tokens(
    _: CurrentAdmin,
    session: SessionDep,
    team_id: str | None = None,
    include_revoked: bool = Query(False),
) -> TokenList:
    """Tokens by id, role, team, member and label; the secrets are not stored, only hashes."""
    return service.list_tokens(session, team_id=team_id, include_revoked=include_revoked)


@router.post("/tokens", response_model=NewToken, status_code=201)
def create_token(body: TokenCreate, admin: CurrentAdmin, session: SessionDep) -> NewToken:
    return service.create_token(
        session,
        admin,
        body.role,
        team_id=body.team_id,
        member_id=body.member_id,
        label=body.label,
    )


@router.post("/tokens/{token_id}/rotate", response_model=NewToken, status_code=201)
def rotate_token(token_id: str, admin: CurrentAdmin, session: SessionDep) -> NewToken:
    """Revoke the token and create its replacement (same role, team, member and label)."""
    return service.rotate_token(session, admin, token_id)


@router.post("/tokens/{token_id}/revoke", response_model=TokenRead)
def revoke_token(token_id: str, admin: CurrentAdmin, session: SessionDep) -> TokenRead:
    return service.revoke_token(session, admin, token_id)


@router.get("/competitions", response_model=CompetitionList)
def list_competitions(_: CurrentAdmin, session: SessionDep) -> CompetitionList:
    """Competitions with hidden scenario names."""
    return service.list_competitions(session)


@router.post("/competitions/apply", response_model=ApplyResult)
def apply_competition(
    body: CompetitionApply, admin: CurrentAdmin, session: SessionDep
) -> ApplyResult:
    """Create or update a competition from its TOML file (idempotent, matched by slug)."""
    return service.apply_competition(session, admin, body.toml, body.source, body.suite_confs)
