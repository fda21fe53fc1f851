"""Who is looking at a page, and the cookies that say so.

The login cookie holds the API token itself (HttpOnly, SameSite=Strict, Secure over https), so a
revoked token logs the browser out on its next request. Only pages read it: the JSON API keeps its
bearer tokens, so no API route can be driven by a cookie a browser sends on its own.

CSRF: the forms that change state (login, logout) carry a double-submit token: a random value in
the `podium_csrf` cookie (SameSite=Strict) that the form must repeat. SameSite=Strict alone already
keeps other sites' forms from riding the login cookie; the token also stops login CSRF (another
site logging a visitor into its own account), which SameSite cannot, as there is no cookie yet.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from app.auth.service import Principal
from app.kit.deps import SettingsDep, lookup_token

LOGIN_COOKIE = "podium_token"
CSRF_COOKIE = "podium_csrf"
CSRF_FIELD = "csrf_token"


async def get_page_principal(request: Request, settings: SettingsDep) -> Principal | None:
    """The login cookie's principal, looked up in its own unit of work (`app.kit.deps`)."""
    token = request.cookies.get(LOGIN_COOKIE, "").strip()
    if not token:
        return None
    return await run_in_threadpool(lookup_token, settings.database_url, token)


PagePrincipal = Annotated[Principal | None, Depends(get_page_principal)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )


def clear_login_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        LOGIN_COOKIE, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token, or a new one (`ensure_csrf_cookie` then hands it out)."""
    return request.cookies.get(CSRF_COOKIE) or new_csrf_token()


def ensure_csrf_cookie(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/"
        )


def csrf_ok(request: Request, submitted: str) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and secrets.compare_digest(expected.encode(), submitted.encode())


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (never `//host` or `https://...`)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/submissions"
