"""The organizer page for teams and tokens (admins only): the same service as the admin API, so
every change lands in the audit log the same way. A new token is shown once, in the answer to
the form that made it, never in a URL."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import service
from app.admin.schemas import NewToken
from app.auth.models import Role
from app.auth.service import Principal
from app.kit.deps import SessionDep
from app.kit.errors import PodiumError
from app.kit.routing import api_router
from app.web.auth import CSRF_FIELD, PagePrincipal, csrf_ok
from app.web.render import error_page, render

router = api_router(include_in_schema=False, tags=["web"])

PAGE = "/admin/teams"
STALE_FORM = "This form has expired. It has been reloaded: please submit it again."
ADMINS_ONLY = "Only an admin can manage teams and tokens. Log in with an admin token."


def _admin(request: Request, principal: Principal | None, csrf: str | None) -> Principal | Response:
    """The admin looking at the page, or the answer for anyone else: not logged in, a stale
    form (when one was posted), not an admin."""
    if principal is None:
        return RedirectResponse(f"/login?next={quote(PAGE, safe='')}", status_code=303)
    if csrf is not None and not csrf_ok(request, csrf):
        return error_page(request, principal, 403, STALE_FORM)
    if principal.role is not Role.admin:
        return error_page(request, principal, 403, ADMINS_ONLY)
    return principal


def _failed(request: Request, session: SessionDep, admin: Principal, exc: PodiumError) -> Response:
    session.rollback()  # nothing half-done is committed with the page that reports it
    return _page(request, session, admin, error=exc.message, status_code=exc.status_code)


def _page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    new_tokens: list[tuple[str, NewToken]] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "teams.html",
        principal,
        status_code=status_code,
        teams=service.list_teams(session).items,
        new_tokens=new_tokens or [],
        error=error,
    )


@router.get(PAGE, response_class=HTMLResponse)
def teams_page(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    admin = _admin(request, principal, None)
    if isinstance(admin, Response):
        return admin
    return _page(request, session, admin)


@router.post(PAGE, response_class=HTMLResponse)
def create_team(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
    name: str = Form(""),
    contact_email: str = Form(""),
) -> Response:
    admin = _admin(request, principal, csrf_token)
    if isinstance(admin, Response):
        return admin
    try:
        created = service.create_team(session, admin, name, contact_email)
    except PodiumError as exc:
        return _failed(request, session, admin, exc)
    return _page(request, session, admin, new_tokens=[(f"team {created.team.name}", created.token)])


@router.post(PAGE + "/import", response_class=HTMLResponse)
def import_teams(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
    csv: str = Form(""),
) -> Response:
    admin = _admin(request, principal, csrf_token)
    if isinstance(admin, Response):
        return admin
    try:
        imported = service.import_teams(session, admin, csv)
    except PodiumError as exc:
        return _failed(request, session, admin, exc)
    tokens = [(f"team {c.team.name}", c.token) for c in imported.items]
    return _page(request, session, admin, new_tokens=tokens)


@router.post(PAGE + "/{team_id}/members", response_class=HTMLResponse)
def add_member(
    team_id: str,
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
    name: str = Form(""),
    email: str = Form(""),
) -> Response:
    admin = _admin(request, principal, csrf_token)
    if isinstance(admin, Response):
        return admin
    try:
        added = service.add_member(session, admin, team_id, name, email)
    except PodiumError as exc:
        return _failed(request, session, admin, exc)
    label = f"{added.member.name} of team {added.team.name}"
    return _page(request, session, admin, new_tokens=[(label, added.token)])


@router.post("/admin/tokens/{token_id}/rotate", response_class=HTMLResponse)
def rotate_token(
    token_id: str,
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
) -> Response:
    admin = _admin(request, principal, csrf_token)
    if isinstance(admin, Response):
        return admin
    try:
        new = service.rotate_token(session, admin, token_id)
    except PodiumError as exc:
        return _failed(request, session, admin, exc)
    label = f"{new.info.label or new.info.role.value} (replaces the revoked {token_id[:8]})"
    return _page(request, session, admin, new_tokens=[(label, new)])


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(
    token_id: str,
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
) -> Response:
    admin = _admin(request, principal, csrf_token)
    if isinstance(admin, Response):
        return admin
    try:
        service.revoke_token(session, admin, token_id)
    except PodiumError as exc:
        return _failed(request, session, admin, exc)
    return RedirectResponse(PAGE, status_code=303)
