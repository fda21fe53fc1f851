"""The organizer page for teams and tokens: admins only, every form CSRF-checked, a new token
shown once on the page that made it, and the same audited service as the API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.app.admin.conftest import bearer

PAGE = "/admin/teams"


def _login(client: TestClient, token: str) -> None:
    client.get("/login")
    resp = client.post(
        "/login",
        data={"token": token, "csrf_token": client.cookies["podium_csrf"]},
        follow_redirects=False,
    )
    assert resp.status_code == 303


def _csrf(client: TestClient) -> str:
    return client.cookies["podium_csrf"]


def _new_tokens(html: str) -> list[str]:
    return re.findall(r'<code class="new-token">(pdm_[^<]+)</code>', html)


def _works(client: TestClient, token: str) -> bool:
    return client.get("/api/v1/submissions", headers=bearer(token)).status_code == 200


def test_only_admins_see_or_use_the_page(
    client: TestClient, admin: dict[str, str], team_a: dict[str, str], organizer: dict[str, str]
) -> None:
    anonymous = client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    for headers in (team_a, organizer):
        _login(client, headers["Authorization"].split()[1])
        assert client.get(PAGE).status_code == 403
        refused = client.post(PAGE, data={"csrf_token": _csrf(client), "name": "sneaky"})
        assert refused.status_code == 403
    names = [t["name"] for t in client.get("/api/v1/admin/teams", headers=admin).json()["items"]]
    assert names == ["alpha"]


def test_admin_creates_team_adds_member_rotates_and_revokes(
    client: TestClient, admin: dict[str, str], organizer: dict[str, str]
) -> None:
    _login(client, admin["Authorization"].split()[1])
    page = client.get(PAGE)
    assert page.status_code == 200 and "Create a team" in page.text
    assert page.headers["cache-control"] == "no-store"

    made = client.post(
        PAGE, data={"csrf_token": _csrf(client), "name": "gamma", "contact_email": "g@x.org"}
    )
    assert made.status_code == 200, made.text
    [team_token] = _new_tokens(made.text)
    assert _works(client, team_token)
    team = next(
        t
        for t in client.get("/api/v1/admin/teams", headers=admin).json()["items"]
        if t["name"] == "gamma"
    )
    added = client.post(
        f"{PAGE}/{team['id']}/members",
        data={"csrf_token": _csrf(client), "name": "ana", "email": "ana@x.org"},
    )
    [member_token] = _new_tokens(added.text)
    assert _works(client, member_token)
    # The listing shows members and token ids, never a token again.
    listing = client.get(PAGE).text
    assert "ana &lt;ana@x.org&gt;" in listing and "g@x.org" in listing
    assert "pdm_" not in listing

    member_token_id = next(
        t["id"]
        for t in client.get("/api/v1/admin/tokens", headers=admin).json()["items"]
        if t["label"] == "member ana"
    )
    rotated = client.post(
        f"/admin/tokens/{member_token_id}/rotate", data={"csrf_token": _csrf(client)}
    )
    [new_member_token] = _new_tokens(rotated.text)
    assert not _works(client, member_token) and _works(client, new_member_token)

    team_token_id = next(
        t["id"]
        for t in client.get("/api/v1/admin/tokens", headers=admin).json()["items"]
        if t["label"] == "team gamma"
    )
    revoked = client.post(
        f"/admin/tokens/{team_token_id}/revoke",
        data={"csrf_token": _csrf(client)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == PAGE
    assert not _works(client, team_token)

    # A refusal is shown on the page, with the service's reason.
    again = client.post(f"/admin/tokens/{team_token_id}/revoke", data={"csrf_token": _csrf(client)})
    assert again.status_code == 409 and "already revoked" in again.text

    audit = client.get("/api/v1/audit", headers=organizer).json()["items"]
    assert [a["action"] for a in reversed(audit)] == [
        "create_team",
        "add_member",
        "rotate_token",
        "revoke_token",
    ]


def test_forms_without_the_csrf_token_change_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    _login(client, admin["Authorization"].split()[1])
    other = client.post("/api/v1/admin/tokens", headers=admin, json={"role": "organizer"}).json()
    for path, data in (
        (PAGE, {"name": "forged"}),
        (f"{PAGE}/import", {"csv": "forged,f@x.org"}),
        (f"/admin/tokens/{other['info']['id']}/rotate", {}),
        (f"/admin/tokens/{other['info']['id']}/revoke", {}),
    ):
        for csrf in ("", "forged-value"):
            resp = client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
            assert resp.status_code == 403, path
            assert "This form has expired" in resp.text
    assert [
        t["name"] for t in client.get("/api/v1/admin/teams", headers=admin).json()["items"]
    ] == []
    assert _works_as_organizer(client, other["token"])  # neither rotated nor revoked


def _works_as_organizer(client: TestClient, token: str) -> bool:
    return client.get("/api/v1/audit", headers=bearer(token)).status_code == 200


def test_csv_import_from_the_page(client: TestClient, admin: dict[str, str]) -> None:
    _login(client, admin["Authorization"].split()[1])
    bad = client.post(
        f"{PAGE}/import", data={"csrf_token": _csrf(client), "csv": "delta,d@x.org\nepsilon,nope\n"}
    )
    assert bad.status_code == 422 and "line 2: &#39;nope&#39; is not an e-mail" in bad.text
    good = client.post(
        f"{PAGE}/import", data={"csrf_token": _csrf(client), "csv": "delta,d@x.org\nepsilon,\n"}
    )
    tokens = _new_tokens(good.text)
    assert len(tokens) == 2 and all(_works(client, t) for t in tokens)
