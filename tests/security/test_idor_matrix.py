"""Every route the app serves, API and web pages alike, against every role that must not reach
team A's things: team B, a worker token and an anonymous caller.

`ACCESS` classifies each route. `test_every_route_is_classified` walks the app's routing tree
(routes left out of the OpenAPI schema included, which `tests/app/roles/test_route_access.py`
cannot see) and fails when a route is added without a line here, so a new route cannot be open
by accident. The attack test then sends every route, with team A's ids in the path, a valid
CSRF token and a plausible body, from each attacker, and checks three things: the answer is a
refusal (or, on a public or own-scoped route, carries nothing of team A's), no answer contains
team A's build log, failure message, container log or description, and afterwards team A's
submission, upload, token and team are exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.models import ApiToken, Role, TeamMember
from app.auth.service import authenticate, create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions.models import Evaluation, Submission, SubmissionStatus
from app.web.auth import CSRF_COOKIE, CSRF_FIELD, LOGIN_COOKIE
from tests.app.factories import competition, scored

# Who may use a route. "public": anyone, and what it shows is public. "own": any team, scoped to
# the caller's own things. "object": a team's object named in the path, for its team and staff.
# "staff": organizers and admins. "admin": admins. "worker": worker tokens (and admins).
# "session": the login forms, which need no principal.
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/healthz/ready"): "public",
    ("GET", "/metrics"): "staff",
    ("POST", "/api/v1/submissions"): "own",
    ("GET", "/api/v1/submissions"): "own",
    ("GET", "/api/v1/submissions/{submission_id}"): "object",
    ("GET", "/api/v1/submissions/{submission_id}/logs"): "object",
    ("GET", "/api/v1/submissions/{submission_id}/instances"): "staff",
    ("POST", "/api/v1/submissions/{submission_id}/cancel"): "admin",
    ("POST", "/api/v1/submissions/{submission_id}/rerun"): "admin",
    ("POST", "/api/v1/submissions/{submission_id}/rescore"): "admin",
    ("POST", "/api/v1/submissions/{submission_id}/baseline"): "admin",
    ("POST", "/api/v1/submissions/{submission_id}/disqualify"): "admin",
    ("GET", "/api/v1/leaderboard"): "public",
    ("POST", "/api/v1/uploads"): "own",
    ("GET", "/api/v1/uploads"): "own",
    ("PATCH", "/api/v1/uploads/{upload_id}"): "object",
    ("GET", "/api/v1/uploads/{upload_id}"): "object",
    ("POST", "/api/v1/uploads/{upload_id}/complete"): "object",
    ("DELETE", "/api/v1/uploads/{upload_id}"): "object",
    ("GET", "/api/v1/competitions"): "public",
    ("GET", "/api/v1/competitions/{slug}"): "public",
    ("GET", "/api/v1/audit"): "staff",
    ("GET", "/api/v1/admin/teams"): "admin",
    ("POST", "/api/v1/admin/teams"): "admin",
    ("POST", "/api/v1/admin/teams/import"): "admin",
    ("POST", "/api/v1/admin/teams/{team_id}/members"): "admin",
    ("GET", "/api/v1/admin/tokens"): "admin",
    ("POST", "/api/v1/admin/tokens"): "admin",
    ("POST", "/api/v1/admin/tokens/{token_id}/rotate"): "admin",
    ("POST", "/api/v1/admin/tokens/{token_id}/revoke"): "admin",
    ("GET", "/api/v1/admin/competitions"): "admin",
    ("POST", "/api/v1/admin/competitions/apply"): "admin",
    ("GET", "/api/v1/artifacts/contexts/{submission_id}"): "worker",
    ("GET", "/api/v1/artifacts/weights/{sha256}"): "worker",
    ("GET", "/"): "public",
    ("GET", "/leaderboard"): "public",
    ("GET", "/leaderboard/export"): "public",
    ("GET", "/login"): "session",
    ("POST", "/login"): "session",
    ("POST", "/logout"): "session",
    ("GET", "/submissions"): "own",
    ("GET", "/submissions/{submission_id}"): "object",
    ("POST", "/submissions/{submission_id}/actions/{action}"): "admin",
    ("GET", "/static/{name}"): "public",
    ("GET", "/admin/ops"): "staff",
    ("GET", "/admin/teams"): "admin",
    ("POST", "/admin/teams"): "admin",
    ("POST", "/admin/teams/import"): "admin",
    ("POST", "/admin/teams/{team_id}/members"): "admin",
    ("POST", "/admin/tokens/{token_id}/rotate"): "admin",
    ("POST", "/admin/tokens/{token_id}/revoke"): "admin",
}
ADMIN_ACTIONS = ("cancel", "rerun", "rescore", "baseline", "disqualify")

SECRETS = (
    "ALPHA-BUILD-LOG-7f3a",
    "ALPHA-FAILURE-7f3a",
    "ALPHA-CONTAINER-LOG-7f3a",
    "ALPHA-DESCRIPTION-7f3a",
)
ATTACKERS = ("team_b", "worker", "anonymous")
REFUSED = {401, 403, 404, 405, 409, 422}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, however routers are included (HEAD left out)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.150)
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif hasattr(route, "path"):
                for method in getattr(route, "methods", None) or ():
                    if method != "HEAD":
                        yield method, prefix + route.path

    return set(walk(list(app.routes), ""))


def test_every_route_is_classified(settings: Settings) -> None:
    found = app_routes(create_app(settings, RecordingQueue()))
    assert len(found) > 40, "the route walk found too few routes: it no longer sees them all"
    unclassified = found - ACCESS.keys()
    assert not unclassified, (
        f"classify these new routes in ACCESS (and check who may use them): {unclassified}"
    )
    assert not ACCESS.keys() - found, "these ACCESS entries match no route any more"


@dataclass(frozen=True)
class TeamA:
    team_id: str
    token: str
    token_id: str
    submission: str
    upload: str


def _team_a(settings: Settings, client: TestClient) -> TeamA:
    competition(settings, [{"slug": "open"}])
    with session_scope(settings.database_url) as session:
        team, token = create_team(session, "alpha")
        team_id = team.id
    submission = scored(
        settings, "alpha", None, status=SubmissionStatus.failed, phase="open", track="main"
    )
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, submission)
        assert row is not None
        row.build_log = f"step 1\n{SECRETS[0]}\n"
        row.failure_message = SECRETS[1]
        row.description = SECRETS[3]
        session.add(
            Evaluation(submission_id=submission, suite_name="smoke", container_log=SECRETS[2])
        )
        token_id = session.query(ApiToken).filter_by(team_id=team_id).one().id
    upload = client.post(
        "/api/v1/uploads",
        headers={"Authorization": f"Bearer {token}"},
        json={"filename": "w.bin", "size": 10},
    )
    assert upload.status_code == 201, upload.text
    return TeamA(team_id, token, token_id, submission, upload.json()["id"])


def _snapshot(settings: Settings, a: TeamA, client: TestClient) -> dict[str, Any]:
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, a.submission)
        assert sub is not None
        upload = client.get(
            f"/api/v1/uploads/{a.upload}", headers={"Authorization": f"Bearer {a.token}"}
        )
        return {
            "status": sub.status,
            "disqualified": sub.disqualified_reason,
            "baseline": sub.is_baseline,
            "evaluations": session.query(Evaluation).filter_by(submission_id=a.submission).count(),
            "token_works": authenticate(session, a.token) is not None,
            "token_revoked": session.get(ApiToken, a.token_id).revoked_at,  # type: ignore[union-attr]
            "members": session.query(TeamMember).filter_by(team_id=a.team_id).count(),
            "upload": (upload.status_code, upload.json().get("offset")),
        }


def _client(settings: Settings, token: str | None) -> TestClient:
    client = TestClient(create_app(settings, RecordingQueue()))
    # A valid double-submit pair, so a refusal is the authorization's, not the CSRF check's.
    client.cookies.set(CSRF_COOKIE, "attacker-csrf")
    if token is not None:
        client.cookies.set(LOGIN_COOKIE, token)
        client.headers["Authorization"] = f"Bearer {token}"
    return client


def _requests(a: TeamA, method: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    values = {
        "submission_id": a.submission,
        "upload_id": a.upload,
        "sha256": "e" * 64,
        "team_id": a.team_id,
        "token_id": a.token_id,
        "slug": "comp",
        "name": "podium.css",
    }
    actions = ADMIN_ACTIONS if "{action}" in path else ("",)
    for action in actions:
        url = path.format(action=action, **values)
        kwargs: dict[str, Any] = {"follow_redirects": False}
        if method == "PATCH":
            kwargs["headers"] = {
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            }
            kwargs["content"] = b"0123456789"
        elif method in ("POST", "DELETE") and path.startswith("/api/"):
            kwargs["json"] = {"reason": "x", "baseline": True, "name": "x", "fresh": True}
        elif method == "POST":
            kwargs["data"] = {CSRF_FIELD: "attacker-csrf", "reason": "x", "baseline": "on"}
            kwargs["data"] |= {"name": "x", "token": "", "members": "x"}
        yield url, kwargs


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_no_route_gives_team_b_a_worker_or_anonymous_anything_of_team_a(
    settings: Settings,
) -> None:
    owner = TestClient(create_app(settings, RecordingQueue()))
    a = _team_a(settings, owner)
    with session_scope(settings.database_url) as session:
        _, b_token = create_team(session, "beta")
        worker_token = create_token(session, Role.worker)
    tokens = {"team_b": b_token, "worker": worker_token, "anonymous": None}
    before = _snapshot(settings, a, owner)
    # Control: team A itself does see its secrets, so their absence below means something.
    own_page = _client(settings, a.token).get(f"/api/v1/submissions/{a.submission}/logs")
    assert own_page.status_code == 200 and SECRETS[0] in own_page.text, own_page.text

    routes = app_routes(create_app(settings, RecordingQueue()))
    problems: list[str] = []
    for attacker in ATTACKERS:
        client = _client(settings, tokens[attacker])
        for method, path in sorted(routes):
            kind = ACCESS[(method, path)]
            for url, kwargs in _requests(a, method, path):
                resp = client.request(method, url, **kwargs)
                where = f"{attacker}: {method} {url} -> {resp.status_code}"
                leaked = [s for s in SECRETS if s in resp.text]
                if leaked:
                    problems.append(f"{where} shows {leaked}")
                if kind in ("public", "session"):
                    continue
                if kind == "own":
                    if a.submission in resp.text or a.upload in resp.text:
                        problems.append(f"{where} lists team A's ids")
                    continue
                if kind == "worker" and attacker == "worker":
                    continue  # let in; the artifacts are the worker's to fetch
                to_login = resp.status_code == 303 and resp.headers["location"].startswith("/login")
                if resp.status_code not in REFUSED and not to_login:
                    problems.append(f"{where}: not refused ({kind})")
    assert not problems, "\n".join(problems)
    assert _snapshot(settings, a, owner) == before, "an attacker changed team A's things"
