"""The queries of team and token administration."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from app.auth.models import ApiToken, Role, Team, TeamMember
from app.kit.repository import Repository


class TeamRepository(Repository[Team]):
    model = Team

    def by_name(self, name: str) -> Team | None:
        return self.one_or_none(select(Team).where(Team.name == name))

    def existing_names(self, names: Sequence[str]) -> set[str]:
        stmt = select(Team.name).where(Team.name.in_(list(names)))
        return set(self.session.scalars(stmt).all())

    def all_by_name(self) -> Sequence[Team]:
        return self.all(select(Team).order_by(Team.name))


class MemberRepository(Repository[TeamMember]):
    model = TeamMember

    def in_team(self, team_id: str, name: str) -> TeamMember | None:
        stmt = select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.name == name)
        return self.one_or_none(stmt)

    def all_by_team(self) -> dict[str, list[TeamMember]]:
        by_team: dict[str, list[TeamMember]] = {}
        for member in self.all(select(TeamMember).order_by(TeamMember.name)):
            by_team.setdefault(member.team_id, []).append(member)
        return by_team


class TokenRepository(Repository[ApiToken]):
    model = ApiToken

    def by_hash(self, token_hash: str) -> ApiToken | None:
        return self.one_or_none(select(ApiToken).where(ApiToken.token_hash == token_hash))

    def listed(self, *, team_id: str | None, include_revoked: bool) -> Sequence[ApiToken]:
        stmt = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
        if team_id is not None:
            stmt = stmt.where(ApiToken.team_id == team_id)
        if not include_revoked:
            stmt = stmt.where(ApiToken.revoked_at.is_(None))
        return self.all(stmt)

    def active_admins(self) -> int:
        stmt = select(func.count(ApiToken.id)).where(
            ApiToken.role == Role.admin, ApiToken.revoked_at.is_(None)
        )
        return int(self.session.scalar(stmt) or 0)
