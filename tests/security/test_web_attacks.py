"""Attacks on the web pages: cross-site request forgery and script injection through names.

CSRF: another site can make a logged-in admin's browser post a form. Every state-changing form
(login, logout, the admin buttons of a submission, the team and token forms) is posted with the
admin's login cookie but without the form's token, with a forged one, and with a token that is
valid for another browser; each is refused with 403 and nothing changes. The cookies are HttpOnly
and SameSite=Strict, and the JSON API ignores the login cookie altogether.

XSS: a team and a submission are named with script payloads; every page that shows them (index,
leaderboard and its chart, submissions list, submission page, the admin's teams page) must show
them escaped, and every page carries a Content-Security-Policy that allows no inline script, so a
missed escape would still not run.
"""

from __future__ import annotations

from html.parser import HTMLParser
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role, Team
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions.models import Evaluation, Submission
from app.web.auth import CSRF_COOKIE, CSRF_FIELD, LOGIN_COOKIE
from tests.app.factories import competition, scored

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(document.cookie)>',
    "'><svg/onload=alert(1)>",
)


def _login(client: TestClient, token: str) -> None:
    client.get("/login")
    resp = client.post(
        "/login",
        data={"token": token, CSRF_FIELD: client.cookies[CSRF_COOKIE]},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text


def _cookie_attributes(client: TestClient, token: str) -> dict[str, SimpleCookie]:
    client.get("/login")
    resp = client.post(
        "/login",
        data={"token": token, CSRF_FIELD: client.cookies[CSRF_COOKIE]},
        follow_redirects=False,
    )
    cookies: dict[str, SimpleCookie] = {}
    for header in resp.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            cookies[name] = jar
    return cookies


@pytest.fixture
def admin_token(settings: Settings) -> str:
    with session_scope(settings.database_url) as session:
        return create_token(session, Role.admin)


def test_login_and_csrf_cookies_are_httponly_and_samesite_strict(
    settings: Settings, admin_token: str
) -> None:
    client = TestClient(create_app(settings, RecordingQueue()))
    cookies = _cookie_attributes(client, admin_token)
    for name in (LOGIN_COOKIE, CSRF_COOKIE):
        morsel = cookies[name][name]
        assert morsel["httponly"] is True, (name, morsel.OutputString())
        assert morsel["samesite"].lower() == "strict", (name, morsel.OutputString())
        assert morsel["path"] == "/"


def test_forged_form_posts_are_refused_and_change_nothing(
    settings: Settings, admin_token: str
) -> None:
    competition(settings, [{"slug": "open"}])
    with session_scope(settings.database_url) as session:
        victim, victim_token = create_team(session, "victim")
        victim_id = victim.id
    sid = scored(settings, "victim", {"mmlu": 0.5})

    admin = TestClient(create_app(settings, RecordingQueue()))
    _login(admin, admin_token)
    # A token that is valid, but for the attacker's own browser.
    attacker = TestClient(create_app(settings, RecordingQueue()))
    attacker.get("/login")
    attackers_token = attacker.cookies[CSRF_COOKIE]
    assert attackers_token != admin.cookies[CSRF_COOKIE]

    forms = [
        (f"/submissions/{sid}/actions/disqualify", {"reason": "forged"}),
        (f"/submissions/{sid}/actions/baseline", {"baseline": "on"}),
        (f"/submissions/{sid}/actions/cancel", {"reason": "forged"}),
        (f"/submissions/{sid}/actions/rerun", {}),
        ("/admin/teams", {"name": "forged-team"}),
        ("/admin/teams/import", {"csv": "name\nforged-import\n"}),
        (f"/admin/teams/{victim_id}/members", {"name": "forged-member"}),
        ("/logout", {}),
        ("/login", {"token": victim_token}),
    ]
    for path, data in forms:
        for forged in (None, "", "forged", attackers_token):
            body = dict(data) if forged is None else {**data, CSRF_FIELD: forged}
            resp = admin.post(path, data=body, follow_redirects=False)
            assert resp.status_code == 403, (path, forged, resp.status_code)
            assert LOGIN_COOKIE not in resp.headers.get("set-cookie", ""), (path, forged)

    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        assert sub.disqualified_reason is None and not sub.is_baseline
        assert sub.status.value == "scored"
        assert session.query(Evaluation).filter_by(submission_id=sid).count() == 1
        names = {t.name for t in session.query(Team)}
        assert names == {"victim"}
    # Still logged in as the admin: the forged logout did nothing either.
    assert 'id="admin-actions"' in admin.get(f"/submissions/{sid}").text
    # Control: with the right token the same form works, so the 403s were the CSRF check.
    done = admin.post(
        f"/submissions/{sid}/actions/disqualify",
        data={"reason": "real", CSRF_FIELD: admin.cookies[CSRF_COOKIE]},
        follow_redirects=False,
    )
    assert done.status_code == 303


def test_the_api_ignores_the_login_cookie(settings: Settings, admin_token: str) -> None:
    """A browser sends cookies on its own; the API acts only on a bearer token a script cannot
    get from another origin."""
    sid = scored(settings, "victim", {"mmlu": 0.5}, phase=None, track=None)
    client = TestClient(create_app(settings, RecordingQueue()))
    _login(client, admin_token)
    for path in (f"/api/v1/submissions/{sid}/disqualify", "/api/v1/admin/teams"):
        resp = client.post(path, json={"reason": "cookie only", "name": "cookie-team"})
        assert resp.status_code == 401, (path, resp.text)
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None and sub.disqualified_reason is None


class _ActiveContent(HTMLParser):
    """What a browser would run: inline <script> elements and on* event-handler attributes,
    found by parsing the page as a browser tokenizes it (text inside attributes is not code)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        self.found += [f"<{tag} {name}=...>" for name in names if name.startswith("on")]
        for name, value in attrs:
            if name.lower() in ("href", "src") and (value or "").lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")

    handle_startendtag = handle_starttag


@pytest.mark.parametrize("payload", PAYLOADS)
def test_script_in_team_and_submission_names_is_escaped_on_every_page(
    settings: Settings, admin_token: str, payload: str
) -> None:
    competition(settings, [{"slug": "open"}])
    with session_scope(settings.database_url) as session:
        _, team_token = create_team(session, payload)
    sid = scored(settings, payload, {"mmlu": 0.5})
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        sub.name = payload
        sub.description = payload
    client = TestClient(create_app(settings, RecordingQueue()))
    _login(client, team_token)
    pages = ["/", "/leaderboard", "/submissions", f"/submissions/{sid}"]
    admin = TestClient(create_app(settings, RecordingQueue()))
    _login(admin, admin_token)
    for who, viewer, path in [
        *(("team", client, p) for p in pages),
        ("admin", admin, f"/submissions/{sid}"),
        ("admin", admin, "/admin/teams"),
        ("admin", admin, "/submissions"),
    ]:
        resp = viewer.get(path)
        assert resp.status_code == 200, (who, path, resp.status_code)
        html = resp.text
        assert payload not in html, f"{who} {path} shows the payload unescaped"
        active = _ActiveContent(html).found
        assert not active, f"{who} {path} has content that would run: {active}"
        if path != "/":
            assert "&lt;" in html, f"{who} {path} does not show the name at all"
        csp = resp.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "script-src 'self'" in csp and "object-src 'none'" in csp
        assert resp.headers["x-content-type-options"] == "nosniff"
