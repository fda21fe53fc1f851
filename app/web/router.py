"""The pages: HTML over the same services the JSON API calls. Routes stay out of the OpenAPI
schema (they are not an API); their access rules are tested in tests/web."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from app.auth.models import Role
from app.auth.service import authenticate
from app.kit.deps import QueueDep, SessionDep, SettingsDep
from app.kit.errors import NotFound, PodiumError
from app.kit.routing import api_router
from app.submissions import admin
from app.web import pages
from app.web.auth import (
    CSRF_FIELD,
    PagePrincipal,
    clear_login_cookie,
    csrf_ok,
    ensure_csrf_cookie,
    new_csrf_token,
    safe_next,
    set_login_cookie,
)
from app.web.render import HERE, SECURITY_HEADERS, error_page, render

router = api_router(include_in_schema=False, tags=["web"])

STATIC = {
    "podium.css": "text/css",
    "podium.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
BAD_TOKEN = (
    "That token was not accepted: it is unknown or has been revoked. Paste the whole token "
    "(it starts with pdm_) that your organizer gave you."
)
NOT_VISIBLE = "Not found: no such submission is visible to you."
STALE_FORM = "This form has expired. It has been reloaded: please submit it again."


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    return render(request, "index.html", principal, competitions=pages.competitions(session))


@router.get("/leaderboard", response_class=HTMLResponse)
def leaderboard(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    competition: str | None = None,
    track: str | None = None,
    phase: str | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> Response:
    """Public. Organizers also see the hidden scenarios. Naming nothing shows the board the
    service picks (the competition most recently opened), with the others to switch to."""
    try:
        view = pages.leaderboard_page(
            session,
            principal,
            competition=competition,
            track=track,
            phase=phase,
            page=page,
            per_page=per_page,
        )
    except PodiumError as exc:
        return error_page(request, principal, exc.status_code, exc.message)
    return render(request, "leaderboard.html", principal, view=view)


@router.get("/leaderboard/export")
def export(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    format: Literal["csv", "json"] = "csv",
    competition: str | None = None,
    track: str | None = None,
    phase: str | None = None,
) -> Response:
    """The whole board as the viewer sees it (hidden scenarios for organizers only)."""
    try:
        board = pages.export_board(session, principal, competition, track, phase)
    except PodiumError as exc:
        return error_page(request, principal, exc.status_code, exc.message)
    name = "-".join(p for p in (board.competition, board.track, board.phase) if p) or "leaderboard"
    disposition = {"Content-Disposition": f'attachment; filename="{quote(name)}.{format}"'}
    if format == "csv":
        return Response(pages.to_csv(board), media_type="text/csv", headers=disposition)
    return JSONResponse(board.model_dump(mode="json"), headers=disposition)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, principal: PagePrincipal, next: str | None = None) -> Response:
    return render(request, "login.html", principal, next=safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    token: str = Form(""),
    csrf_token: str = Form("", alias=CSRF_FIELD),
    next: str = Form(""),
) -> Response:
    target = safe_next(next)
    if not csrf_ok(request, csrf_token):
        return render(request, "login.html", None, status_code=403, next=target, error=STALE_FORM)
    token = token.strip()
    principal = authenticate(session, token) if token else None
    if principal is None:
        return render(request, "login.html", None, status_code=401, next=target, error=BAD_TOKEN)
    response = RedirectResponse(target, status_code=303)
    set_login_cookie(request, response, token)
    # A new CSRF token per login, so one planted before it is worth nothing after.
    ensure_csrf_cookie(request, response, new_csrf_token())
    return response


@router.post("/logout")
def logout(
    request: Request,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
) -> Response:
    if not csrf_ok(request, csrf_token):
        return error_page(request, principal, 403, STALE_FORM)
    response = RedirectResponse("/", status_code=303)
    clear_login_cookie(request, response)
    return response


@router.get("/submissions", response_class=HTMLResponse)
def submissions(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    if principal is None:
        return _to_login(request)
    return render(
        request,
        "submissions.html",
        principal,
        submissions=pages.submission_list(session, principal),
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission(
    submission_id: str, request: Request, session: SessionDep, principal: PagePrincipal
) -> Response:
    if principal is None:
        return _to_login(request)
    try:
        view = pages.submission_page(session, principal, submission_id)
    except NotFound:
        return error_page(request, principal, 404, NOT_VISIBLE)
    return render(request, "submission.html", principal, view=view)


ADMIN_ACTIONS = ("cancel", "rerun", "rescore", "baseline", "disqualify")


@router.post("/submissions/{submission_id}/actions/{action}")
def admin_action(
    submission_id: str,
    action: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    queue: QueueDep,
    principal: PagePrincipal,
    csrf_token: str = Form("", alias=CSRF_FIELD),
    reason: str = Form(""),
    fresh: str = Form(""),
    baseline: str = Form(""),
) -> Response:
    """The admin buttons of a submission page; each calls the same service as the API, so it
    lands in the audit log the same way."""
    if principal is None:
        return _to_login(request)
    if not csrf_ok(request, csrf_token):
        return error_page(request, principal, 403, STALE_FORM)
    if principal.role is not Role.admin:
        return error_page(request, principal, 403, "Only an admin can do this.")
    if action not in ADMIN_ACTIONS:
        return error_page(request, principal, 404, f"No action {action!r}.")
    try:
        if action == "cancel":
            admin.cancel(session, principal, submission_id, reason.strip(), queue)
        elif action == "rerun":
            admin.rerun(session, settings, queue, principal, submission_id, fresh=bool(fresh))
        elif action == "rescore":
            admin.rescore(session, settings, principal, submission_id)
        elif action == "baseline":
            admin.set_baseline(session, principal, submission_id, baseline == "on")
        else:
            admin.disqualify(session, principal, submission_id, reason)
    except PodiumError as exc:
        return error_page(request, principal, exc.status_code, exc.message)
    return RedirectResponse(f"/submissions/{quote(submission_id)}", status_code=303)


@router.get("/static/{name}")
def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        HERE / "static" / name,
        media_type=media_type,
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"},
    )
