"""Teams and bearer tokens. Tokens are random; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, Role, Team
from app.kit.errors import Conflict, NotFound

TOKEN_PREFIX = "pdm_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for a team token the team it acts for."""

    token_id: str
    role: Role
    team_id: str | None
    team_name: str | None

    @property
    def can_read_everything(self) -> bool:
        return self.role in (Role.organizer, Role.admin)


def create_team(session: Session, name: str) -> tuple[Team, str]:
    """Create a team and its first token; returns the plain token (shown once)."""
    name = name.strip()
    if not name:
        raise ValueError("a team needs a non-empty name")
    if session.scalars(select(Team).where(Team.name == name)).first() is not None:
        raise Conflict(f"a team named {name!r} already exists")
    team = Team(name=name)
    session.add(team)
    session.flush()
    return team, create_token(session, Role.team, team_id=team.id, label=f"team {name}")


def create_token(
    session: Session,
    role: Role,
    *,
    team_id: str | None = None,
    label: str = "",
    member_id: str | None = None,
) -> str:
    if role is Role.team and team_id is None:
        raise ValueError("a team token must name its team")
    if role is not Role.team and team_id is not None:
        raise ValueError(f"an {role.value} token belongs to no team")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            role=role,
            team_id=team_id,
            label=label,
            member_id=member_id,
        )
    )
    session.flush()
    return token


def team_by_name(session: Session, name: str) -> Team:
    team = session.scalars(select(Team).where(Team.name == name)).first()
    if team is None:
        raise NotFound(f"no team named {name!r}")
    return team


def has_admin_token(session: Session) -> bool:
    stmt = select(ApiToken.id).where(ApiToken.role == Role.admin, ApiToken.revoked_at.is_(None))
    return session.scalars(stmt).first() is not None


@cache
def by_token_hash() -> Select[str, Role, str | None, str]:
    """The principal's columns (`principal_of`) of the valid, unrevoked token whose hash is the
    `token_hash` parameter: no row for any other token. Built once: every authenticated request
    runs it, alone (`authenticate`) or inside a larger statement (the polled submission GET)."""
    return (
        select(ApiToken.id, ApiToken.role, ApiToken.team_id, Team.name)
        .outerjoin(Team, Team.id == ApiToken.team_id)
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
    )


PRINCIPAL_COLUMNS = len(by_token_hash().selected_columns)


def principal_of(columns: Sequence[Any] | None) -> Principal | None:
    """The principal of a row of `by_token_hash`'s columns; None for no row (unknown token)."""
    if columns is None:
        return None
    token_id, role, team_id, team_name = columns
    return Principal(token_id=token_id, role=role, team_id=team_id, team_name=team_name)


def authenticate(session: Session | Connection, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token, or None: one query, its team joined."""
    return principal_of(session.execute(by_token_hash(), {"token_hash": hash_token(token)}).first())
