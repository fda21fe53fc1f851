"""The admin API on SQLite and PostgreSQL: who may call it, teams and member tokens that work,
rotation and revocation that really cut a token off, the CSV import, competitions, the audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.admin.conftest import bearer

COMPETITION = """
slug = "cup"
title = "The Cup"
[[tracks]]
slug = "main"
[[phases]]
slug = "open"
suite = "smoke"
"""


def _create(client: TestClient, admin: dict[str, str], name: str, **extra: Any) -> Any:
    resp = client.post("/api/v1/admin/teams", headers=admin, json={"name": name, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _works(client: TestClient, token: str) -> bool:
    status = client.get("/api/v1/submissions", headers=bearer(token)).status_code
    assert status in (200, 401), status
    return status == 200


def _admin_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/admin/")
        for method in operations
    ]


def test_only_admin_tokens_get_in(
    client: TestClient,
    admin: dict[str, str],
    team_a: dict[str, str],
    organizer: dict[str, str],
) -> None:
    team_id = _create(client, admin, "gamma")["team"]["id"]
    token_id = client.get("/api/v1/admin/tokens", headers=admin).json()["items"][0]["id"]
    routes = _admin_routes(client)
    assert len(routes) == 10
    for method, path in routes:
        url = path.format(team_id=team_id, token_id=token_id)
        body = {"name": "x", "role": "organizer", "csv": "x,", "toml": COMPETITION}
        for who, headers, expected in (
            ("team", team_a, 403),
            ("organizer", organizer, 403),
            ("anonymous", {}, 401),
        ):
            kwargs: dict[str, Any] = {"headers": headers}
            if method == "POST":
                kwargs["json"] = body
            resp = client.request(method, url, **kwargs)
            assert resp.status_code == expected, f"{who}: {method} {path} -> {resp.status_code}"
    # Nothing the refused callers sent was done.
    names = [t["name"] for t in client.get("/api/v1/admin/teams", headers=admin).json()["items"]]
    assert names == ["alpha", "gamma"]


def test_team_and_member_tokens_work_and_no_secret_is_listed(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = _create(client, admin, "gamma", contact_email="lead@gamma.example")
    team_token = created["token"]["token"]
    assert team_token.startswith("pdm_") and _works(client, team_token)
    team_id = created["team"]["id"]
    members = []
    for name in ("ana", "bo"):
        resp = client.post(
            f"/api/v1/admin/teams/{team_id}/members",
            headers=admin,
            json={"name": name, "email": f"{name}@gamma.example"},
        )
        assert resp.status_code == 201, resp.text
        members.append(resp.json())
    for added in members:
        token = added["token"]["token"]
        assert _works(client, token)
        me = client.get("/api/v1/submissions", headers=bearer(token))
        assert me.status_code == 200
        assert added["token"]["info"]["member_id"] == added["member"]["id"]
        assert added["token"]["info"]["team"] == "gamma"
    # A member's token submits as the team: it is a team token.
    again = client.post(
        f"/api/v1/admin/teams/{team_id}/members", headers=admin, json={"name": "ana"}
    )
    assert again.status_code == 409 and "already has a member named 'ana'" in again.text

    listing = client.get("/api/v1/admin/teams", headers=admin)
    team = next(t for t in listing.json()["items"] if t["name"] == "gamma")
    assert team["contact_email"] == "lead@gamma.example"
    assert [(m["name"], m["email"]) for m in team["members"]] == [
        ("ana", "ana@gamma.example"),
        ("bo", "bo@gamma.example"),
    ]
    assert len(team["tokens"]) == 3 and all(t["active"] for t in team["tokens"])
    tokens = client.get("/api/v1/admin/tokens", headers=admin)
    for text in (listing.text, tokens.text):
        for secret in [team_token] + [m["token"]["token"] for m in members]:
            assert secret not in text
        assert "pdm_" not in text and "hash" not in text


def test_rotate_cuts_the_old_token_off(client: TestClient, admin: dict[str, str]) -> None:
    created = _create(client, admin, "gamma")
    team_id = created["team"]["id"]
    member = client.post(
        f"/api/v1/admin/teams/{team_id}/members", headers=admin, json={"name": "ana"}
    ).json()
    old, old_id = member["token"]["token"], member["token"]["info"]["id"]
    assert _works(client, old)
    resp = client.post(f"/api/v1/admin/tokens/{old_id}/rotate", headers=admin)
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert not _works(client, old)
    assert _works(client, new["token"])
    info = new["info"]
    assert (info["role"], info["team_id"], info["member_id"], info["label"]) == (
        "team",
        team_id,
        member["member"]["id"],
        "member ana",
    )
    twice = client.post(f"/api/v1/admin/tokens/{old_id}/rotate", headers=admin)
    assert twice.status_code == 409 and "already revoked" in twice.json()["detail"]
    # The team's shared token was not touched.
    assert _works(client, created["token"]["token"])


def test_revoke_cuts_off_and_keeps_one_admin(client: TestClient, admin: dict[str, str]) -> None:
    created = _create(client, admin, "gamma")
    token_id = created["token"]["info"]["id"]
    resp = client.post(f"/api/v1/admin/tokens/{token_id}/revoke", headers=admin)
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert not _works(client, created["token"]["token"])
    assert client.post(f"/api/v1/admin/tokens/{token_id}/revoke", headers=admin).status_code == 409
    assert client.get("/api/v1/admin/tokens", headers=admin).json()["items"][0]["role"] == "admin"
    everything = client.get(
        "/api/v1/admin/tokens", headers=admin, params={"include_revoked": "true"}
    ).json()["items"]
    assert {t["id"] for t in everything if not t["active"]} == {token_id}

    # The last admin token cannot be revoked: nobody could administer the server after it.
    admin_id = next(t["id"] for t in everything if t["role"] == "admin")
    last = client.post(f"/api/v1/admin/tokens/{admin_id}/revoke", headers=admin)
    assert last.status_code == 409 and "last admin token" in last.json()["detail"]
    second = client.post("/api/v1/admin/tokens", headers=admin, json={"role": "admin"})
    assert second.status_code == 201
    assert client.post(f"/api/v1/admin/tokens/{admin_id}/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/admin/teams", headers=admin).status_code == 401
    assert (
        client.get("/api/v1/admin/teams", headers=bearer(second.json()["token"])).status_code == 200
    )


def test_create_token_for_each_role(client: TestClient, admin: dict[str, str]) -> None:
    team_id = _create(client, admin, "gamma")["team"]["id"]
    organizer = client.post("/api/v1/admin/tokens", headers=admin, json={"role": "organizer"})
    assert organizer.status_code == 201
    assert client.get("/api/v1/audit", headers=bearer(organizer.json()["token"])).status_code == 200
    team = client.post(
        "/api/v1/admin/tokens",
        headers=admin,
        json={"role": "team", "team_id": team_id, "label": "ci bot"},
    )
    assert team.status_code == 201 and team.json()["info"]["label"] == "ci bot"
    assert _works(client, team.json()["token"])
    no_team = client.post("/api/v1/admin/tokens", headers=admin, json={"role": "team"})
    assert no_team.status_code == 400 and "needs its team" in no_team.json()["detail"]
    wrong = client.post(
        "/api/v1/admin/tokens", headers=admin, json={"role": "organizer", "team_id": team_id}
    )
    assert wrong.status_code == 400 and "belongs to no team" in wrong.json()["detail"]
    unknown = client.post(
        "/api/v1/admin/tokens", headers=admin, json={"role": "team", "team_id": "nope"}
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("csv", "status", "message"),
    [
        ("name,email\ndelta,d@x.org\nepsilon,not-an-address\n", 422, "line 3: 'not-an-address'"),
        ("delta,d@x.org\n\n# comment\n,e@x.org\n", 422, "line 4: the team name is empty"),
        ("delta,d@x.org\nepsilon,e@x.org,extra\n", 422, "line 2: expected `name,email`"),
        ("delta,d@x.org\ndelta,e@x.org\n", 422, "line 2: team 'delta' is already on line 1"),
        ("delta,d@x.org\nalpha,a@x.org\n", 409, "line 2: a team named 'alpha' already exists"),
        ("name,email\n\n", 422, "holds no team"),
    ],
)
def test_csv_with_a_bad_line_names_it_and_creates_nothing(
    client: TestClient,
    admin: dict[str, str],
    team_a: dict[str, str],
    csv: str,
    status: int,
    message: str,
) -> None:
    resp = client.post("/api/v1/admin/teams/import", headers=admin, json={"csv": csv})
    assert resp.status_code == status, resp.text
    assert message in resp.json()["detail"]
    names = [t["name"] for t in client.get("/api/v1/admin/teams", headers=admin).json()["items"]]
    assert names == ["alpha"]


def test_csv_import_creates_every_team_with_a_working_token(
    client: TestClient, admin: dict[str, str]
) -> None:
    csv = 'name,email\ndelta,d@x.org\n"Team, Inc.",lead@inc.example\nepsilon,\n'
    resp = client.post("/api/v1/admin/teams/import", headers=admin, json={"csv": csv})
    assert resp.status_code == 201, resp.text
    items = resp.json()["items"]
    assert [(i["team"]["name"], i["team"]["contact_email"]) for i in items] == [
        ("delta", "d@x.org"),
        ("Team, Inc.", "lead@inc.example"),
        ("epsilon", None),
    ]
    assert all(_works(client, i["token"]["token"]) for i in items)


def test_competitions_apply_and_list(client: TestClient, admin: dict[str, str]) -> None:
    body = {"toml": COMPETITION, "source": "cup.toml"}
    first = client.post("/api/v1/admin/competitions/apply", headers=admin, json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "competition": "cup",
        "created": True,
        "tracks": ["main"],
        "phases": ["open"],
        "removed": [],
    }
    again = client.post("/api/v1/admin/competitions/apply", headers=admin, json=body)
    assert again.json()["created"] is False
    listed = client.get("/api/v1/admin/competitions", headers=admin).json()["items"]
    assert [(c["slug"], c["title"], c["phases"][0]["suite"]) for c in listed] == [
        ("cup", "The Cup", "smoke")
    ]
    bad = client.post(
        "/api/v1/admin/competitions/apply",
        headers=admin,
        json={"toml": "typo = 1\n" + COMPETITION, "source": "cup.toml"},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("cup.toml: typo:")
    broken = client.post(
        "/api/v1/admin/competitions/apply", headers=admin, json={"toml": "slug = ", "source": "x"}
    )
    assert broken.status_code == 422 and "not valid TOML" in broken.json()["detail"]


def test_every_change_is_audited_without_secrets(
    client: TestClient, admin: dict[str, str], organizer: dict[str, str]
) -> None:
    created = _create(client, admin, "gamma", contact_email="g@x.org")
    team_id = created["team"]["id"]
    member = client.post(
        f"/api/v1/admin/teams/{team_id}/members", headers=admin, json={"name": "ana"}
    ).json()
    rotated = client.post(
        f"/api/v1/admin/tokens/{member['token']['info']['id']}/rotate", headers=admin
    ).json()
    client.post(f"/api/v1/admin/tokens/{rotated['info']['id']}/revoke", headers=admin)
    made = client.post("/api/v1/admin/tokens", headers=admin, json={"role": "worker"}).json()
    client.post("/api/v1/admin/teams/import", headers=admin, json={"csv": "delta,d@x.org\n"})
    client.post("/api/v1/admin/competitions/apply", headers=admin, json={"toml": COMPETITION})
    audit = client.get("/api/v1/audit", headers=organizer)
    rows = list(reversed(audit.json()["items"]))
    assert [(r["action"], r["actor_role"]) for r in rows] == [
        ("create_team", "admin"),
        ("add_member", "admin"),
        ("rotate_token", "admin"),
        ("revoke_token", "admin"),
        ("create_token", "admin"),
        ("create_team", "admin"),
        ("apply_competition", "admin"),
    ]
    assert rows[0]["target_id"] == team_id and rows[0]["details"]["contact_email"] == "g@x.org"
    assert rows[1]["details"]["member"] == "ana"
    assert rows[2]["target_id"] == member["token"]["info"]["id"]
    assert rows[2]["details"]["new_token_id"] == rotated["info"]["id"]
    assert rows[3]["target_id"] == rotated["info"]["id"]
    assert rows[4]["details"]["role"] == "worker" and rows[4]["target_id"] == made["info"]["id"]
    assert rows[5]["details"]["via"] == "csv" and rows[5]["details"]["line"] == 1
    assert rows[6]["target_id"] == "cup" and rows[6]["details"]["created"] is True
    for secret in (created["token"]["token"], member["token"]["token"], rotated["token"]):
        assert secret not in audit.text
