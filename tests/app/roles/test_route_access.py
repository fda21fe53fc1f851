"""Every route, every role: who may do what (table-driven).

Roles: anonymous, the owning team, another team, an organizer, an admin. A new route must be
added to ROUTES, or `test_every_route_is_in_the_table` fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import RecordingQueue
from tests.app.factories import scored
from tests.helpers import MINIMAL_DOCKERFILE, make_tar

ROLES = ("anonymous", "owner", "other_team", "organizer", "admin", "worker")
OK = {200, 201, 204}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: dict[str, set[int]]
    """Role -> acceptable statuses; roles not listed must get `denied`."""
    json: dict[str, Any] | None = None
    files: bool = False
    denied: dict[str, int] = field(default_factory=dict)


PUBLIC = {r: {200} for r in ROLES}
AUTHED = {"owner": OK, "other_team": OK, "organizer": OK, "admin": OK}
OWNER_AND_STAFF = {"owner": OK, "organizer": OK, "admin": OK}
STAFF = {"organizer": OK, "admin": OK}
TEAMS = {"owner": OK, "other_team": OK}


def _admin(extra: set[int] | None = None) -> dict[str, set[int]]:
    return {"admin": OK | (extra or set())}


ROUTES = [
    Case("GET", "/healthz", PUBLIC),
    Case("GET", "/healthz/ready", PUBLIC),
    Case("GET", "/metrics", STAFF),
    Case("GET", "/api/v1/leaderboard", PUBLIC),
    Case("GET", "/api/v1/competitions", PUBLIC),
    Case("GET", "/api/v1/competitions/{competition}", {r: {404} for r in ROLES}),
    Case("POST", "/api/v1/submissions", TEAMS, files=True),
    Case("GET", "/api/v1/submissions", AUTHED),
    Case("GET", "/api/v1/submissions/{sid}", OWNER_AND_STAFF),
    Case("GET", "/api/v1/submissions/{sid}/logs", OWNER_AND_STAFF),
    Case("GET", "/api/v1/submissions/{sid}/instances", STAFF),
    Case("POST", "/api/v1/submissions/{sid}/cancel", _admin({409}), json={}),
    Case("POST", "/api/v1/submissions/{sid}/rerun", _admin(), json={}),
    Case("POST", "/api/v1/submissions/{sid}/rescore", _admin({409}), json={}),
    Case("POST", "/api/v1/submissions/{sid}/baseline", _admin(), json={"baseline": True}),
    Case("POST", "/api/v1/submissions/{sid}/disqualify", _admin(), json={"reason": "x"}),
    Case("GET", "/api/v1/audit", STAFF),
    # Admin API (app/admin/): "nope" ids, so an admin gets in and finds nothing.
    Case("GET", "/api/v1/admin/teams", _admin()),
    Case("POST", "/api/v1/admin/teams", _admin(), json={"name": "new-team"}),
    Case("POST", "/api/v1/admin/teams/import", _admin(), json={"csv": "csv-team,c@x.org"}),
    Case("POST", "/api/v1/admin/teams/{team}/members", {"admin": {404}}, json={"name": "m"}),
    Case("GET", "/api/v1/admin/tokens", _admin()),
    Case("POST", "/api/v1/admin/tokens", _admin(), json={"role": "organizer"}),
    Case("POST", "/api/v1/admin/tokens/{token}/rotate", {"admin": {404}}),
    Case("POST", "/api/v1/admin/tokens/{token}/revoke", {"admin": {404}}),
    Case("GET", "/api/v1/admin/competitions", _admin()),
    Case(
        "POST",
        "/api/v1/admin/competitions/apply",
        _admin(),
        json={
            "toml": 'slug = "c"\n[[tracks]]\nslug = "t"\n[[phases]]\nslug = "p"\nsuite = "smoke"\n'
        },
    ),
    Case("POST", "/api/v1/uploads", TEAMS, json={"filename": "w.bin", "size": 10}),
    Case("GET", "/api/v1/uploads", TEAMS),
    Case("GET", "/api/v1/uploads/{upload}", {"owner": OK}),
    Case("PATCH", "/api/v1/uploads/{upload}", {"owner": OK}),
    Case("POST", "/api/v1/uploads/{upload}/complete", {"owner": OK | {409, 422}}),
    Case("DELETE", "/api/v1/uploads/{upload}", {"owner": OK}),
    # The test's submission has no stored context or weights: 404 means "let in, not found".
    Case("GET", "/api/v1/artifacts/contexts/{sid}", {"worker": {404}, "admin": {404}}),
    Case("GET", "/api/v1/artifacts/weights/{sha}", {"worker": {404}, "admin": {404}}),
]


def _expected_denial(case: Case, role: str) -> set[int]:
    if role == "anonymous":
        return {401}
    if role == "other_team" and "owner" in case.allowed:
        # Another team's submission or upload does not exist, as far as it can tell.
        return {404}
    return {403}


@pytest.fixture
def world(settings: Settings) -> dict[str, Any]:
    with session_scope(settings.database_url) as session:
        _, owner = create_team(session, "owner")
        _, other = create_team(session, "other")
        organizer = create_token(session, Role.organizer)
        admin = create_token(session, Role.admin)
        worker = create_token(session, Role.worker)
    tokens = {
        "owner": owner,
        "other_team": other,
        "organizer": organizer,
        "admin": admin,
        "worker": worker,
    }
    return {"tokens": tokens}


def _headers(world: dict[str, Any], role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    return {"Authorization": f"Bearer {world['tokens'][role]}"}


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: f"{c.method} {c.path}")
def test_route_access(settings: Settings, world: dict[str, Any], case: Case) -> None:
    client = TestClient(create_app(settings, RecordingQueue()))
    owner = _headers(world, "owner")
    for role in ROLES:
        # Fresh objects per role: an allowed action (cancel, disqualify) may change them.
        sid = scored(settings, "owner", {"mmlu": 0.5}, phase=None, track=None)
        upload = client.post(
            "/api/v1/uploads", headers=owner, json={"filename": "w.bin", "size": 10}
        ).json()["id"]
        path = case.path.format(
            sid=sid, upload=upload, competition="nope", sha="0" * 64, team="nope", token="nope"
        )
        kwargs: dict[str, Any] = {"headers": _headers(world, role)}
        if case.json is not None:
            kwargs["json"] = case.json
        if case.files:
            kwargs["files"] = {"context": ("c.tgz", make_tar({"Dockerfile": MINIMAL_DOCKERFILE}))}
        if case.method == "PATCH":
            kwargs["headers"] = {
                **kwargs["headers"],
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            }
            kwargs["content"] = b"0123456789"
        status = client.request(case.method, path, **kwargs).status_code
        expected = case.allowed.get(role) or _expected_denial(case, role)
        assert status in expected, f"{role}: {case.method} {case.path} -> {status}, want {expected}"


def test_every_route_is_in_the_table(settings: Settings) -> None:
    # The OpenAPI document lists every API route, however routers are nested (web pages are
    # left out of it on purpose: tests/web checks who sees each page).
    app = create_app(settings, RecordingQueue())
    declared = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    in_table = {
        (
            c.method,
            c.path.replace("{sid}", "{submission_id}")
            .replace("{upload}", "{upload_id}")
            .replace("{competition}", "{slug}")
            .replace("{sha}", "{sha256}")
            .replace("{team}", "{team_id}")
            .replace("{token}", "{token_id}"),
        )
        for c in ROUTES
    }
    assert len(declared) > 15
    assert declared - in_table == set(), "add these routes to ROUTES"
    assert in_table - declared == set(), "these ROUTES entries match no route"
