"""`podium admin`: administer the server the organizers run, through its admin API.

Each command calls the server at PODIUM_SERVER (or --server, or the config file) with an admin
token (--token, PODIUM_TOKEN or the config file): the same lookup `podium submit` uses, see
app/client/config.py. So it acts on whatever database that server uses, PostgreSQL on another
host included, and a token it prints is one that server accepts.

Writing to a database directly is the exception, for a server that has no admin token yet (or
lost it): `podium admin bootstrap`, or any command with `--local` or `--data-dir DIR`, which then
opens the database of DIR (or of PODIUM_DATA_DIR / PODIUM_DATABASE_URL) on this machine. Both
ways run the same service (app/admin/service.py), so both are written to the audit log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click
from pydantic import BaseModel

from app.admin.schemas import (
    ApplyResult,
    CompetitionApply,
    MemberCreated,
    NewToken,
    TeamCreated,
    TeamList,
    TeamRead,
    TeamsImported,
    TokenCreate,
    TokenList,
    TokenRead,
)
from app.auth.models import Role
from app.client.api import PodiumApi
from app.client.config import ClientConfig, resolve
from app.client.errors import ApiError, ClientError
from app.competitions.schemas import CompetitionList

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ModelT = TypeVar("ModelT", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

FULL_ID = 32
FIELD_FLAGS = {
    "team_id": "--team",
    "member_id": "--member",
    "contact_email": "--email",
    "email": "--email",
    "label": "--label",
    "role": "--role",
    "name": "NAME",
    "csv": "the CSV file",
    "toml": "the competition file",
}
"""API body fields -> what the user typed, so a refusal names the flag, not the field."""


def _flags(detail: str) -> str:
    return re.sub(
        r"\bbody\.(\w+)", lambda m: FIELD_FLAGS.get(m.group(1), m.group(1)), detail
    ).replace("body: ", "")


class Backend(Protocol):
    """Where the commands act: a server over HTTP, or (bootstrap) a database directly."""

    where: str

    def list_teams(self) -> TeamList: ...
    def create_team(self, name: str, email: str | None) -> TeamCreated: ...
    def import_teams(self, csv: str) -> TeamsImported: ...
    def add_member(self, team_id: str, name: str, email: str | None) -> MemberCreated: ...
    def list_tokens(self, team_id: str | None, include_revoked: bool) -> TokenList: ...
    def create_token(self, body: TokenCreate) -> NewToken: ...
    def rotate_token(self, token_id: str) -> NewToken: ...
    def revoke_token(self, token_id: str) -> TokenRead: ...
    def list_competitions(self) -> CompetitionList: ...
    def apply(self, body: CompetitionApply) -> ApplyResult: ...


class Remote:
    """The admin API of a running server."""

    def __init__(self, config: ClientConfig) -> None:
        if not config.token:
            raise ClientError(
                f"no admin token for {config.server}: pass --token, set PODIUM_TOKEN, or put "
                f'token = "..." in {config.config_path}. `podium up` prints the first admin '
                "token when it starts on a new data directory; on the server's machine, "
                "`podium admin bootstrap --data-dir DIR` makes another."
            )
        self.config = config
        self.where = config.server

    def _call(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        with PodiumApi(self.config) as api:
            try:
                return model.model_validate(api.json(method, f"/api/v1/admin{path}", **kwargs))
            except ApiError as exc:
                if exc.status_code == 403:
                    raise ClientError(
                        f"the server at {self.where} refused: {exc.detail}. The token from "
                        f"{self.config.token_source} is not an admin token."
                    ) from exc
                if exc.status_code in (400, 404, 409, 422):
                    raise ClientError(_flags(exc.detail)) from exc
                raise

    def list_teams(self) -> TeamList:
        return self._call(TeamList, "GET", "/teams")

    def create_team(self, name: str, email: str | None) -> TeamCreated:
        body = {"name": name, "contact_email": email}
        return self._call(TeamCreated, "POST", "/teams", json=body)

    def import_teams(self, csv: str) -> TeamsImported:
        return self._call(TeamsImported, "POST", "/teams/import", json={"csv": csv})

    def add_member(self, team_id: str, name: str, email: str | None) -> MemberCreated:
        body = {"name": name, "email": email}
        return self._call(MemberCreated, "POST", f"/teams/{team_id}/members", json=body)

    def list_tokens(self, team_id: str | None, include_revoked: bool) -> TokenList:
        params: dict[str, str] = {"include_revoked": str(include_revoked).lower()}
        if team_id:
            params["team_id"] = team_id
        return self._call(TokenList, "GET", "/tokens", params=params)

    def create_token(self, body: TokenCreate) -> NewToken:
        return self._call(NewToken, "POST", "/tokens", json=body.model_dump(mode="json"))

    def rotate_token(self, token_id: str) -> NewToken:
        return self._call(NewToken, "POST", f"/tokens/{token_id}/rotate")

    def revoke_token(self, token_id: str) -> TokenRead:
        return self._call(TokenRead, "POST", f"/tokens/{token_id}/revoke")

    def list_competitions(self) -> CompetitionList:
        return self._call(CompetitionList, "GET", "/competitions")

    def apply(self, body: CompetitionApply) -> ApplyResult:
        return self._call(ApplyResult, "POST", "/competitions/apply", json=body.model_dump())


class Local:
    """The database of a data directory (or PODIUM_DATABASE_URL), opened on this machine."""

    def __init__(self) -> None:
        from app.cli import _ready_settings, _redact

        self.settings = _ready_settings()
        self.where = f"the database {_redact(self.settings.database_url)} (direct access)"

    @contextmanager
    def session(self) -> Iterator[Session]:
        from app.kit.db import session_scope
        from app.kit.errors import PodiumError

        try:
            with session_scope(self.settings.database_url) as session:
                yield session
        except PodiumError as exc:
            raise ClientError(exc.message) from exc

    def list_teams(self) -> TeamList:
        from app.admin import service

        with self.session() as session:
            return service.list_teams(session)

    def create_team(self, name: str, email: str | None) -> TeamCreated:
        from app.admin import service

        with self.session() as session:
            return service.create_team(session, None, name, email)

    def import_teams(self, csv: str) -> TeamsImported:
        from app.admin import service

        with self.session() as session:
            return service.import_teams(session, None, csv)

    def add_member(self, team_id: str, name: str, email: str | None) -> MemberCreated:
        from app.admin import service

        with self.session() as session:
            return service.add_member(session, None, team_id, name, email)

    def list_tokens(self, team_id: str | None, include_revoked: bool) -> TokenList:
        from app.admin import service

        with self.session() as session:
            return service.list_tokens(session, team_id=team_id, include_revoked=include_revoked)

    def create_token(self, body: TokenCreate) -> NewToken:
        from app.admin import service

        with self.session() as session:
            return service.create_token(
                session,
                None,
                body.role,
                team_id=body.team_id,
                member_id=body.member_id,
                label=body.label,
            )

    def rotate_token(self, token_id: str) -> NewToken:
        from app.admin import service

        with self.session() as session:
            return service.rotate_token(session, None, token_id)

    def revoke_token(self, token_id: str) -> TokenRead:
        from app.admin import service

        with self.session() as session:
            return service.revoke_token(session, None, token_id)

    def list_competitions(self) -> CompetitionList:
        from app.admin import service

        with self.session() as session:
            return service.list_competitions(session)

    def apply(self, body: CompetitionApply) -> ApplyResult:
        from app.admin import service

        with self.session() as session:
            return service.apply_competition(
                session, None, body.toml, body.source, body.suite_confs
            )


# Choosing the backend -----------------------------------------------------------------------
@dataclass
class _GroupOptions:
    data_dir: Path | None = None
    local: bool = False


DATA_DIR_HELP = (
    "Act on the database of this data directory directly, not through a server "
    "(bootstrap; env PODIUM_DATA_DIR)."
)


def _use_data_dir(data_dir: Path) -> None:
    # The same as the top-level `podium --data-dir`: Settings read the environment.
    from app.config import get_settings

    os.environ["PODIUM_DATA_DIR"] = str(data_dir.expanduser().absolute())
    get_settings.cache_clear()


def _backend(server: str | None, token: str | None, local: bool, data_dir: Path | None) -> Backend:
    ctx = click.get_current_context()
    group = ctx.find_object(_GroupOptions) or _GroupOptions()
    root_data_dir = ctx.find_root().params.get("data_dir")
    data_dir = data_dir or group.data_dir
    if data_dir is not None:
        _use_data_dir(data_dir)
    if local or group.local or data_dir is not None or root_data_dir is not None:
        if server or token:
            raise ClientError(
                "--server/--token talk to a server; --local/--data-dir open a database "
                "directly. Use one or the other."
            )
        backend = Local()
        click.secho(f"acting on {backend.where}", fg="yellow", err=True)
        return backend
    return Remote(resolve(server, token))


def _target_options(func: F) -> F:
    options = [
        click.option(
            "--server",
            default=None,
            help="Podium URL (else PODIUM_SERVER, else the config file, else "
            "http://127.0.0.1:8000).",
        ),
        click.option(
            "--token", default=None, help="Admin token (else PODIUM_TOKEN, else the config file)."
        ),
        click.option(
            "--local",
            is_flag=True,
            help="Open this machine's database directly instead of calling a server "
            "(PODIUM_DATA_DIR or PODIUM_DATABASE_URL).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help=DATA_DIR_HELP,
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _find_team(backend: Backend, name: str) -> TeamRead:
    teams = backend.list_teams().items
    for team in teams:
        if team.name == name:
            return team
    known = ", ".join(repr(t.name) for t in teams[:20]) or "none yet"
    raise ClientError(
        f"no team named {name!r} on {backend.where} (teams: {known}); "
        "create it with `podium admin create-team`"
    )


def _find_token(backend: Backend, token_id: str) -> str:
    """A full token id from an id or a prefix of one, as `podium admin tokens` shows them."""
    token_id = token_id.strip()
    if token_id.startswith("pdm_"):
        raise ClientError("give the token's id (from `podium admin tokens`), not the token itself")
    if len(token_id) == FULL_ID:
        return token_id
    matches = [
        t.id
        for t in backend.list_tokens(None, include_revoked=True).items
        if t.id.startswith(token_id)
    ]
    if len(matches) != 1:
        found = "no token" if not matches else f"{len(matches)} tokens"
        raise ClientError(f"{found} with an id starting {token_id!r}; see `podium admin tokens`")
    return matches[0]


def _show_token(what: str, new: NewToken) -> None:
    click.echo(f"{what}; token id {new.info.id}; the token, shown once:")
    click.echo(new.token)


def _token_line(token: TokenRead, member_names: dict[str, str]) -> str:
    who = token.team or token.role.value
    if token.member_id:
        who += f" / {member_names.get(token.member_id, token.member_id[:8])}"
    state = "active" if token.active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
    return f"  {token.id}  {token.role.value:<9} {who:<30} {token.label:<30} {state}"


# Commands -----------------------------------------------------------------------------------
@click.group("admin")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=DATA_DIR_HELP,
)
@click.option("--local", is_flag=True, help="Every command opens this machine's database directly.")
@click.pass_context
def admin(ctx: click.Context, data_dir: Path | None, local: bool) -> None:
    """Administer a running Podium server: teams, members, tokens, competitions.

    Calls the server at PODIUM_SERVER with an admin token (PODIUM_TOKEN, or
    ~/.config/podium/config.toml). `bootstrap` (and --local / --data-dir) write to a database
    on this machine instead, to make the first admin token.
    """
    ctx.obj = _GroupOptions(data_dir=data_dir, local=local)


@admin.command("bootstrap")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The server's data directory (else PODIUM_DATA_DIR; PODIUM_DATABASE_URL wins).",
)
@click.option("--label", default="bootstrap", show_default=True)
@click.pass_context
def bootstrap_cmd(ctx: click.Context, data_dir: Path | None, label: str) -> None:
    """Make an admin token by writing to the server's database directly.

    For a server that has no admin token yet, or lost it. Run it on a machine that reaches the
    server's database, with the server's --data-dir or PODIUM_DATABASE_URL.
    """
    group = ctx.find_object(_GroupOptions) or _GroupOptions()
    data_dir = data_dir or group.data_dir
    if data_dir is not None:
        _use_data_dir(data_dir)
    from app.admin import service

    backend = Local()
    with backend.session() as session:
        new = service.bootstrap_admin(session, label=label)
    click.echo(f"admin token created in {backend.where}")
    click.echo("use it: export PODIUM_TOKEN=<the token below>  (shown once, keep it)")
    click.echo(new.token)


@admin.command("teams")
@_target_options
def teams_cmd(server: str | None, token: str | None, local: bool, data_dir: Path | None) -> None:
    """List teams with their members and tokens (never the tokens themselves)."""
    backend = _backend(server, token, local, data_dir)
    teams = backend.list_teams().items
    if not teams:
        click.echo(f"no team yet on {backend.where}; create one with `podium admin create-team`")
    for team in teams:
        contact = f" <{team.contact_email}>" if team.contact_email else ""
        click.echo(f"{team.name}{contact}  (id {team.id})")
        names = {m.id: m.name for m in team.members}
        for member in team.members:
            email = f" <{member.email}>" if member.email else ""
            click.echo(f"  member {member.name}{email}")
        for tok in team.tokens:
            click.echo(_token_line(tok, names))


@admin.command("create-team")
@click.argument("name")
@click.option("--email", default=None, help="The team's contact e-mail.")
@_target_options
def create_team_cmd(
    name: str,
    email: str | None,
    server: str | None,
    token: str | None,
    local: bool,
    data_dir: Path | None,
) -> None:
    """Create a team; prints its token as the last line (shown once)."""
    created = _backend(server, token, local, data_dir).create_team(name, email)
    click.echo(f"team {created.team.name!r} created (id {created.team.id}); its token, shown once:")
    click.echo(created.token.token)


@admin.command("import-teams")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_target_options
def import_teams_cmd(
    csv_file: Path, server: str | None, token: str | None, local: bool, data_dir: Path | None
) -> None:
    """Create teams from a CSV file of `name,email` lines, all or none.

    Prints `name,email,token` lines (a CSV to hand the tokens out from; shown once).
    """
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {csv_file}: {exc}") from exc
    imported = _backend(server, token, local, data_dir).import_teams(text)
    click.echo("name,email,token")
    for created in imported.items:
        click.echo(f"{created.team.name},{created.team.contact_email or ''},{created.token.token}")
    click.secho(f"{len(imported.items)} team(s) created", err=True)


@admin.command("add-member")
@click.argument("team")
@click.argument("name")
@click.option("--email", default=None, help="The member's e-mail.")
@_target_options
def add_member_cmd(
    team: str,
    name: str,
    email: str | None,
    server: str | None,
    token: str | None,
    local: bool,
    data_dir: Path | None,
) -> None:
    """Add a member NAME to TEAM, with a token of their own (last line, shown once)."""
    backend = _backend(server, token, local, data_dir)
    added = backend.add_member(_find_team(backend, team).id, name, email)
    _show_token(f"member {added.member.name!r} added to team {added.team.name!r}", added.token)


@admin.command("create-token")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="worker: for workers on hosts without the API's disk (PODIUM_WORKER_TOKEN)",
)
@click.option("--team", "team_name", default=None, help="Team name, for --role team.")
@click.option("--member", default=None, help="A member of --team the token is for.")
@click.option("--label", default="", help="A note to recognise the token by.")
@_target_options
def create_token_cmd(
    role: str,
    team_name: str | None,
    member: str | None,
    label: str,
    server: str | None,
    token: str | None,
    local: bool,
    data_dir: Path | None,
) -> None:
    """Create a token; prints it as the last line (shown once)."""
    if role == Role.team.value and not team_name:
        raise ClientError("--role team needs --team NAME")
    if role != Role.team.value and team_name:
        raise ClientError(f"--team is only for --role team; an {role} token belongs to no team")
    if member and not team_name:
        raise ClientError("--member needs --team NAME (the member's team)")
    backend = _backend(server, token, local, data_dir)
    body = TokenCreate(role=Role(role), label=label)
    if team_name:
        team = _find_team(backend, team_name)
        body.team_id = team.id
        if member:
            found = [m for m in team.members if m.name == member]
            if not found:
                raise ClientError(
                    f"team {team.name!r} has no member {member!r}; add one with "
                    "`podium admin add-member`"
                )
            body.member_id = found[0].id
    _show_token(f"{role} token created", backend.create_token(body))


@admin.command("tokens")
@click.option("--team", "team_name", default=None, help="Only this team's tokens.")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked tokens too.")
@_target_options
def tokens_cmd(
    team_name: str | None,
    include_revoked: bool,
    server: str | None,
    token: str | None,
    local: bool,
    data_dir: Path | None,
) -> None:
    """List tokens: id, role, team / member, label, state. The secrets are never stored."""
    backend = _backend(server, token, local, data_dir)
    team = _find_team(backend, team_name) if team_name else None
    names = {m.id: m.name for m in team.members} if team else {}
    if team is None:
        names = {m.id: m.name for t in backend.list_teams().items for m in t.members}
    items = backend.list_tokens(team.id if team else None, include_revoked).items
    for tok in items:
        click.echo(_token_line(tok, names))
    if not items:
        click.echo("no token")


@admin.command("rotate-token")
@click.argument("token_id")
@_target_options
def rotate_token_cmd(
    token_id: str, server: str | None, token: str | None, local: bool, data_dir: Path | None
) -> None:
    """Revoke a token and make its replacement (same role, team, member, label); the new one is
    the last line (shown once). TOKEN_ID: from `podium admin tokens` (a prefix will do)."""
    backend = _backend(server, token, local, data_dir)
    old = _find_token(backend, token_id)
    new = backend.rotate_token(old)
    _show_token(f"token {old} revoked and replaced", new)


@admin.command("revoke-token")
@click.argument("token_id")
@_target_options
def revoke_token_cmd(
    token_id: str, server: str | None, token: str | None, local: bool, data_dir: Path | None
) -> None:
    """Revoke a token: it stops working at once. TOKEN_ID: from `podium admin tokens`."""
    backend = _backend(server, token, local, data_dir)
    revoked = backend.revoke_token(_find_token(backend, token_id))
    click.echo(f"token {revoked.id} ({revoked.label}) revoked")


@admin.command("competitions")
@_target_options
def competitions_cmd(
    server: str | None, token: str | None, local: bool, data_dir: Path | None
) -> None:
    """List competitions with their phases (hidden scenarios included)."""
    backend = _backend(server, token, local, data_dir)
    competitions = backend.list_competitions().items
    if not competitions:
        click.echo("no competition yet; create one with `podium admin apply FILE.toml`")
    for c in competitions:
        click.echo(f"{c.slug}: {c.title}  (tracks: {', '.join(t.slug for t in c.tracks)})")
        for p in c.phases:
            state = "open" if p.is_open else "closed"
            hidden = f", hidden: {', '.join(p.hidden_scenarios)}" if p.hidden_scenarios else ""
            click.echo(f"  phase {p.slug}: suite {p.suite}, {state}{hidden}")


@admin.command("apply")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_target_options
def apply_cmd(
    path: Path, server: str | None, token: str | None, local: bool, data_dir: Path | None
) -> None:
    """Create or update a competition from its TOML file (idempotent)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}") from exc
    from app.competitions.config import CompetitionFileError, read_suite_confs

    try:
        # The server keeps each conf's text with its phase; it cannot read this machine's files.
        confs = read_suite_confs(text, path)
    except CompetitionFileError as exc:
        raise ClientError(str(exc)) from exc
    backend = _backend(server, token, local, data_dir)
    report = backend.apply(CompetitionApply(toml=text, source=str(path), suite_confs=confs))
    verb = "created" if report.created else "updated"
    click.echo(f"competition {report.competition!r} {verb}")
    click.echo(f"  tracks: {', '.join(report.tracks)}")
    click.echo(f"  phases: {', '.join(report.phases)}")
    for removed in report.removed:
        click.echo(f"  removed {removed}")


@admin.command("prune-uploads")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The server's data directory (else PODIUM_DATA_DIR).",
)
@click.pass_context
def prune_uploads_cmd(ctx: click.Context, data_dir: Path | None) -> None:
    """Remove weights uploads left unfinished (48 h idle) or unclaimed (7 days).

    Works on the files of a data directory, so it runs on the server's machine.
    """
    from app.config import get_settings
    from app.uploads.service import prune_expired

    group = ctx.find_object(_GroupOptions) or _GroupOptions()
    data_dir = data_dir or group.data_dir
    if data_dir is not None:
        _use_data_dir(data_dir)
    removed = prune_expired(get_settings())
    click.echo(f"removed {len(removed)} expired upload(s)")
