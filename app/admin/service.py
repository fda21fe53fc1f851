"""Team, member, token and competition administration: the one implementation behind the admin
API, the organizer page and `podium admin --local`. Every change is written to the audit log
(never a secret: tokens appear there by id)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from app.admin.repository import MemberRepository, TeamRepository, TokenRepository
from app.admin.schemas import (
    ApplyResult,
    MemberCreated,
    MemberRead,
    NewToken,
    TeamCreated,
    TeamList,
    TeamRead,
    TeamsImported,
    TokenList,
    TokenRead,
)
from app.audit.service import record
from app.auth import service as auth_service
from app.auth.models import ApiToken, Role, Team, TeamMember
from app.auth.service import Principal, hash_token
from app.competitions import service as competition_service
from app.competitions.config import CompetitionConfig, CompetitionFileError, parse_competition_text
from app.competitions.schemas import CompetitionList
from app.kit.db import utcnow
from app.kit.errors import BadRequest, Conflict, NotFound, Unprocessable

NAME_MAX = 100
EMAIL_MAX = 320
# Deliberately loose: the point is to catch a swapped column or a typo'd separator, not to
# second-guess mail servers.
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
CSV_HEADER = ["name", "email"]


# Reading ------------------------------------------------------------------------------------
def _token_read(row: ApiToken, team_names: dict[str, str]) -> TokenRead:
    return TokenRead(
        id=row.id,
        role=row.role,
        team_id=row.team_id,
        team=team_names.get(row.team_id) if row.team_id else None,
        member_id=row.member_id,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None,
    )


def _team_read(team: Team, members: Sequence[TeamMember], tokens: Sequence[ApiToken]) -> TeamRead:
    names = {team.id: team.name}
    return TeamRead(
        id=team.id,
        name=team.name,
        contact_email=team.contact_email,
        created_at=team.created_at,
        members=[_member_read(m) for m in members],
        tokens=[_token_read(t, names) for t in tokens],
    )


def _member_read(member: TeamMember) -> MemberRead:
    return MemberRead(
        id=member.id, name=member.name, email=member.email, created_at=member.created_at
    )


def _team_names(session: Session) -> dict[str, str]:
    return {t.id: t.name for t in TeamRepository(session).all_by_name()}


def list_teams(session: Session) -> TeamList:
    """Every team with its members and all its tokens (revoked ones too, marked so)."""
    members = MemberRepository(session).all_by_team()
    tokens: dict[str, list[ApiToken]] = {}
    for row in TokenRepository(session).listed(team_id=None, include_revoked=True):
        if row.team_id is not None:
            tokens.setdefault(row.team_id, []).append(row)
    return TeamList(
        items=[
            _team_read(team, members.get(team.id, []), tokens.get(team.id, []))
            for team in TeamRepository(session).all_by_name()
        ]
    )


def read_team(session: Session, team: Team) -> TeamRead:
    members = MemberRepository(session).all_by_team().get(team.id, [])
    tokens = TokenRepository(session).listed(team_id=team.id, include_revoked=True)
    return _team_read(team, members, tokens)


def list_tokens(
    session: Session, *, team_id: str | None = None, include_revoked: bool = False
) -> TokenList:
    if team_id is not None:
        _team(session, team_id)
    names = _team_names(session)
    rows = TokenRepository(session).listed(team_id=team_id, include_revoked=include_revoked)
    return TokenList(items=[_token_read(row, names) for row in rows])


def list_competitions(session: Session) -> CompetitionList:
    return competition_service.list_competitions(session, show_hidden=True)


def _team(session: Session, team_id: str) -> Team:
    team = TeamRepository(session).get(team_id)
    if team is None:
        raise NotFound(f"no team with id {team_id!r} (list them with GET /api/v1/admin/teams)")
    return team


def _new_token(session: Session, token: str) -> NewToken:
    row = TokenRepository(session).by_hash(hash_token(token))
    assert row is not None  # created in this transaction
    return NewToken(token=token, info=_token_read(row, _team_names(session)))


# Input checks -------------------------------------------------------------------------------
def clean_name(raw: str, what: str) -> str:
    name = raw.strip()
    if not name:
        raise Unprocessable(f"the {what} name is empty")
    if len(name) > NAME_MAX:
        raise Unprocessable(f"the {what} name is {len(name)} characters long; at most {NAME_MAX}")
    return name


def clean_email(raw: str | None) -> str | None:
    email = (raw or "").strip()
    if not email:
        return None
    if len(email) > EMAIL_MAX or not EMAIL.match(email):
        raise Unprocessable(f"{email!r} is not an e-mail address (like name@example.org)")
    return email


# Teams and members --------------------------------------------------------------------------
def create_team(
    session: Session,
    actor: Principal | None,
    name: str,
    contact_email: str | None = None,
    **audit: object,
) -> TeamCreated:
    """A team and its first token (shared by the team; members get their own with
    `add_member`)."""
    name = clean_name(name, "team")
    email = clean_email(contact_email)
    team, token = auth_service.create_team(session, name)
    team.contact_email = email
    session.flush()
    new = _new_token(session, token)
    record(
        session,
        actor,
        "create_team",
        "team",
        team.id,
        name=name,
        contact_email=email,
        token_id=new.info.id,
        **audit,
    )
    return TeamCreated(team=read_team(session, team), token=new)


def parse_team_csv(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, name, e-mail) per team; every problem names its line."""
    rows: list[tuple[int, str, str | None]] = []
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text))
    header_allowed = True
    for fields in reader:
        line = reader.line_num
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        cells = [f.strip() for f in fields]
        if header_allowed and [c.lower() for c in cells] == CSV_HEADER:
            header_allowed = False
            continue
        header_allowed = False
        if len(cells) > 2:
            raise Unprocessable(
                f"line {line}: expected `name,email`, found {len(cells)} fields (quote a "
                'name that contains a comma: "Team, Inc.",lead@example.org)'
            )
        try:
            name = clean_name(cells[0], "team")
            email = clean_email(cells[1] if len(cells) > 1 else None)
        except Unprocessable as exc:
            raise Unprocessable(f"line {line}: {exc.message}") from exc
        if "@" in name:
            # A spreadsheet saved with `;` between columns lands here as one field.
            raise Unprocessable(
                f"line {line}: the team name {name!r} holds an e-mail address; separate the "
                "name and the e-mail with a comma"
            )
        if name in first_line:
            raise Unprocessable(f"line {line}: team {name!r} is already on line {first_line[name]}")
        first_line[name] = line
        rows.append((line, name, email))
    if not rows:
        raise Unprocessable("the CSV holds no team: write one `name,email` line per team")
    return rows


def import_teams(session: Session, actor: Principal | None, text: str) -> TeamsImported:
    """All or nothing: every line is checked before the first team is created."""
    try:
        rows = parse_team_csv(text)
    except Unprocessable as exc:
        raise Unprocessable(
            f"{exc.message}. Nothing was imported: fix it and send the whole file again"
        ) from exc
    existing = TeamRepository(session).existing_names([name for _, name, _ in rows])
    for line, name, _ in rows:
        if name in existing:
            raise Conflict(
                f"line {line}: a team named {name!r} already exists. Nothing was imported: "
                "remove the line and send the whole file again"
            )
    return TeamsImported(
        items=[
            create_team(session, actor, name, email, via="csv", line=line)
            for line, name, email in rows
        ]
    )


def add_member(
    session: Session, actor: Principal | None, team_id: str, name: str, email: str | None = None
) -> MemberCreated:
    """A member of a team, with a token of their own."""
    team = _team(session, team_id)
    name = clean_name(name, "member")
    email = clean_email(email)
    if MemberRepository(session).in_team(team.id, name) is not None:
        raise Conflict(
            f"team {team.name!r} already has a member named {name!r}; to give them a new "
            "token, rotate their current one"
        )
    member = MemberRepository(session).add(TeamMember(team_id=team.id, name=name, email=email))
    token = auth_service.create_token(
        session, Role.team, team_id=team.id, member_id=member.id, label=f"member {name}"
    )
    new = _new_token(session, token)
    record(
        session,
        actor,
        "add_member",
        "team",
        team.id,
        member_id=member.id,
        member=name,
        email=email,
        token_id=new.info.id,
    )
    return MemberCreated(team=read_team(session, team), member=_member_read(member), token=new)


# Tokens -------------------------------------------------------------------------------------
def create_token(
    session: Session,
    actor: Principal | None,
    role: Role,
    *,
    team_id: str | None = None,
    member_id: str | None = None,
    label: str = "",
) -> NewToken:
    member = None
    if member_id is not None:
        member = MemberRepository(session).get(member_id)
        if member is None:
            raise NotFound(f"no member with id {member_id!r}")
        if team_id is not None and team_id != member.team_id:
            raise BadRequest(f"member {member.name!r} is not in that team")
        team_id = member.team_id
    if role is Role.team:
        if team_id is None:
            raise BadRequest("a team token needs its team")
        team = _team(session, team_id)
        default_label = f"member {member.name}" if member else f"team {team.name}"
    else:
        if team_id is not None:
            raise BadRequest(
                f"an {role.value} token belongs to no team; only a team token names one"
            )
        default_label = role.value
    label = label.strip() or default_label
    token = auth_service.create_token(
        session, role, team_id=team_id, member_id=member_id, label=label
    )
    new = _new_token(session, token)
    record(
        session,
        actor,
        "create_token",
        "token",
        new.info.id,
        role=role.value,
        team_id=team_id,
        member_id=member_id,
        label=label,
    )
    return new


def _active_token(session: Session, token_id: str) -> ApiToken:
    row = TokenRepository(session).get(token_id, for_update=True)
    if row is None:
        raise NotFound(f"no token with id {token_id!r} (list them with GET /api/v1/admin/tokens)")
    if row.revoked_at is not None:
        raise Conflict(
            f"token {token_id} ({row.label or row.role.value}) was already revoked; create a "
            "new one instead"
        )
    return row


def rotate_token(session: Session, actor: Principal | None, token_id: str) -> NewToken:
    """Revoke a token and create its replacement: same role, team, member and label."""
    row = _active_token(session, token_id)
    row.revoked_at = utcnow()
    token = auth_service.create_token(
        session, row.role, team_id=row.team_id, member_id=row.member_id, label=row.label
    )
    new = _new_token(session, token)
    record(
        session,
        actor,
        "rotate_token",
        "token",
        row.id,
        new_token_id=new.info.id,
        role=row.role.value,
        team_id=row.team_id,
        member_id=row.member_id,
    )
    return new


def revoke_token(session: Session, actor: Principal | None, token_id: str) -> TokenRead:
    row = _active_token(session, token_id)
    if row.role is Role.admin and TokenRepository(session).active_admins() <= 1:
        raise Conflict(
            f"token {token_id} is the last admin token: revoking it would leave nobody able to "
            "administer this server. Create another admin token first"
        )
    row.revoked_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "revoke_token",
        "token",
        row.id,
        role=row.role.value,
        team_id=row.team_id,
        member_id=row.member_id,
    )
    return _token_read(row, _team_names(session))


def bootstrap_admin(session: Session, label: str = "bootstrap") -> NewToken:
    """An admin token made with direct access to the database: how the first one is made."""
    token = auth_service.create_token(session, Role.admin, label=label)
    new = _new_token(session, token)
    record(session, None, "bootstrap_admin", "token", new.info.id, via="local database")
    return new


# Competitions -------------------------------------------------------------------------------
def parse_competition(text: str, source: str) -> CompetitionConfig:
    try:
        return parse_competition_text(text, source)
    except CompetitionFileError as exc:
        raise Unprocessable(str(exc)) from exc


def apply_competition(
    session: Session,
    actor: Principal | None,
    text: str,
    source: str,
    suite_confs: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Create or update a competition from its TOML file, as `podium admin apply` does;
    `suite_confs` holds the text of the conf files its phases name (`suite_conf`)."""
    report = competition_service.apply_competition(
        session, parse_competition(text, source), suite_confs
    )
    result = ApplyResult(
        competition=report.competition,
        created=report.created,
        tracks=list(report.tracks),
        phases=list(report.phases),
        removed=list(report.removed),
    )
    record(
        session,
        actor,
        "apply_competition",
        "competition",
        report.competition,
        **result.model_dump(exclude={"competition"}),
    )
    return result
