"""Templates and the one way a page is rendered: autoescaped, with the CSRF cookie and headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.auth.service import Principal
from app.web.auth import CSRF_FIELD, csrf_token, ensure_csrf_cookie

HERE = Path(__file__).parent
LOG_TAIL_LINES = 200

# Everything is served by the app itself, scripts from a file only: an injected <script> or
# inline handler would not run even if escaping were ever missed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def score(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def when(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def tail(text: str | None, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join((text or "").splitlines()[-lines:])


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(score=score, when=when, tail=tail)
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    token = csrf_token(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "csrf_token": token, "csrf_field": CSRF_FIELD, **context},
        status_code=status_code,
    )
    ensure_csrf_cookie(request, response, token)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(
    request: Request, principal: Principal | None, status_code: int, message: str
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        principal,
        status_code=status_code,
        status=status_code,
        message=message,
    )
