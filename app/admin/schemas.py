"""What the admin API takes and returns. No schema here carries a token's hash; the plain token
appears only in `NewToken`, the one answer that creates it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.auth.models import Role


class TokenRead(BaseModel):
    id: str
    role: Role
    team_id: str | None
    team: str | None = Field(description="The team's name, for team tokens")
    member_id: str | None = Field(description="The member it was made for, if any")
    label: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class TokenList(BaseModel):
    items: list[TokenRead]


class NewToken(BaseModel):
    token: str = Field(description="The secret bearer token. Shown once: only its hash is kept")
    info: TokenRead


class MemberRead(BaseModel):
    id: str
    name: str
    email: str | None
    created_at: datetime


class TeamRead(BaseModel):
    id: str
    name: str
    contact_email: str | None
    created_at: datetime
    members: list[MemberRead]
    tokens: list[TokenRead] = Field(description="Every token of the team, revoked ones included")


class TeamList(BaseModel):
    items: list[TeamRead]


class TeamCreate(BaseModel):
    name: str = Field(max_length=100)
    contact_email: str | None = None


class TeamCreated(BaseModel):
    team: TeamRead
    token: NewToken = Field(description="The team's first token")


class TeamImport(BaseModel):
    csv: str = Field(
        description="One team per line: `name,email` (the e-mail may be left empty). A first line "
        "`name,email` is a header; blank lines and lines starting with # are skipped"
    )


class TeamsImported(BaseModel):
    items: list[TeamCreated]


class MemberCreate(BaseModel):
    name: str = Field(max_length=100)
    email: str | None = None


class MemberCreated(BaseModel):
    team: TeamRead
    member: MemberRead
    token: NewToken


class TokenCreate(BaseModel):
    role: Role
    team_id: str | None = Field(None, description="Required for a team token")
    member_id: str | None = Field(None, description="A member of that team, for a team token")
    label: str = Field("", max_length=200)


class CompetitionApply(BaseModel):
    toml: str = Field(description="The competition file, as `podium admin apply` reads it")
    source: str = Field(
        "the request body", max_length=200, description="A name for it in error messages"
    )
    suite_confs: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The text of each HELM conf file a phase names with `suite_conf`, keyed by that "
            "path as the TOML writes it; `podium admin apply` reads them next to the file"
        ),
    )


class ApplyResult(BaseModel):
    competition: str
    created: bool
    tracks: list[str]
    phases: list[str]
    removed: list[str]
