"""The pages over HTTP: status codes, redirects, cookies, CSRF, visibility and escaping.
Runs on SQLite and PostgreSQL (the `settings` fixture)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient

from app.auth.models import ApiToken
from app.competitions.config import CompetitionConfig
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.main import create_app
from app.queue import RecordingQueue
from tests.app.factories import competition, scored
from tests.web.conftest import FAILURE, HIDDEN, RANKED, World

XSS = "<script>alert(1)</script>"


def _teams(html: str) -> list[str]:
    return re.findall(r'<td class="team">([^<]*)</td>', html)


def _login(client: TestClient, token: str, next_: str = "") -> object:
    client.get("/login")
    return client.post(
        "/login",
        data={"token": token, "csrf_token": client.cookies["podium_csrf"], "next": next_},
        follow_redirects=False,
    )


def test_home_lists_competitions_with_phases_and_links(client: TestClient, world: World) -> None:
    resp = client.get("/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert "Open evaluation" in html and "Final" in html
    assert '<span class="badge open">open</span>' in html
    assert '<span class="badge closed">closed</span>' in html
    assert 'href="/leaderboard?competition=comp&amp;track=rtx4090&amp;phase=final"' in html


def test_home_without_competitions_links_the_default_leaderboard(client: TestClient) -> None:
    html = client.get("/").text
    assert "No competition is configured" in html and 'href="/leaderboard"' in html
    assert client.get("/leaderboard").status_code == 200


def test_leaderboard_is_public_ranked_and_hides_hidden_scenarios(
    client: TestClient, world: World
) -> None:
    resp = client.get("/leaderboard")
    assert resp.status_code == 200
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    html = resp.text
    assert _teams(html) == [*RANKED, "reference"]
    assert '<span class="badge baseline">baseline</span>' in html
    assert f'data-scenario="{HIDDEN}"' not in html
    assert html.count('class="bar"') == 10  # top 5 x (gsm, mmlu)


def test_organizer_cookie_shows_hidden_scenarios(client: TestClient, world: World) -> None:
    client.cookies.set("podium_token", world.tokens["organizer"])
    html = client.get("/leaderboard").text
    assert f'data-scenario="{HIDDEN}"' in html and "Organizer view" in html
    assert html.count('class="bar"') == 15
    client.cookies.set("podium_token", world.tokens["alpha"])
    assert f'data-scenario="{HIDDEN}"' not in client.get("/leaderboard").text


def test_track_phase_and_pagination_links(client: TestClient, world: World) -> None:
    html = client.get("/leaderboard", params={"track": "rtx4090"}).text
    assert _teams(html) == ["eta"]
    assert client.get("/leaderboard", params={"phase": "final"}).text.count("No scored") == 1
    page = client.get("/leaderboard", params={"per_page": 2, "page": 2}).text
    assert _teams(page) == ["delta", "gamma"] and "Page 2 of 4" in page
    assert 'rel="prev"' in page and 'rel="next"' in page
    assert page.count('class="bar"') == 10  # the chart still shows the overall top 5


def test_unknown_names_render_a_404_page(client: TestClient, world: World) -> None:
    resp = client.get("/leaderboard", params={"track": "nope"})
    assert resp.status_code == 404 and "has no track" in resp.text
    assert resp.headers["content-type"].startswith("text/html")


def test_several_competitions_without_a_name_show_the_latest_opened_with_a_switch(
    client: TestClient, settings: Settings, world: World
) -> None:
    # "other" opened a year ago (the world's phases opened days ago): "comp" is shown.
    opened = (utcnow() - timedelta(days=365)).isoformat()
    config = CompetitionConfig.model_validate(
        {
            "slug": "other",
            "tracks": [{"slug": "main"}],
            "phases": [{"slug": "p", "suite": "smoke", "opens_at": opened}],
        }
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, config)
    resp = client.get("/leaderboard", follow_redirects=False)
    assert resp.status_code == 200
    assert _teams(resp.text)[0] == "alpha"
    switch = re.search(r'<nav class="switch" aria-label="Competition">(.*?)</nav>', resp.text, re.S)
    assert switch is not None
    assert re.findall(r'href="/leaderboard\?competition=([^"]+)"', switch.group(1)) == [
        "comp",
        "other",
    ]
    assert 'aria-current="page" class="current">comp<' in switch.group(1)
    assert _teams(client.get("/leaderboard", params={"competition": "other"}).text) == []


def test_submissions_outside_any_competition_have_their_own_board(
    client: TestClient, settings: Settings, world: World
) -> None:
    scored(settings, "pioneer", {"mmlu": 0.3}, phase=None, track=None)
    html = client.get("/leaderboard").text
    assert 'href="/leaderboard?competition=default"' in html
    board = client.get("/leaderboard", params={"competition": "default"})
    assert board.status_code == 200 and _teams(board.text) == ["pioneer"]
    assert 'id="default-board"' in board.text
    assert "<title>Leaderboard · Podium</title>" in board.text
    assert "Leaderboard leaderboard" not in board.text


def test_exports_are_the_whole_board_as_the_viewer_sees_it(
    client: TestClient, world: World
) -> None:
    resp = client.get("/leaderboard/export", params={"format": "csv", "per_page": 1})
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["team"] for r in rows] == [*RANKED, "reference"] and HIDDEN not in rows[0]
    body = client.get("/leaderboard/export", params={"format": "json"}).json()
    assert body["scenarios"] == ["gsm", "mmlu"] and body["total"] == 7
    client.cookies.set("podium_token", world.tokens["organizer"])
    body = client.get("/leaderboard/export", params={"format": "json"}).json()
    assert HIDDEN in body["scenarios"]


def test_login_sets_a_strict_httponly_cookie(client: TestClient, world: World) -> None:
    resp = _login(client, world.tokens["alpha"])
    assert resp.status_code == 303 and resp.headers["location"] == "/submissions"
    cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("podium_token="))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=strict" in flags and "secure" not in flags
    assert "alpha" in client.get("/submissions").text


def test_login_over_https_sets_a_secure_cookie(settings: Settings, world: World) -> None:
    client = TestClient(create_app(settings, RecordingQueue()), base_url="https://testserver")
    resp = _login(client, world.tokens["alpha"])
    cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("podium_token="))
    assert "secure" in cookie.lower()


def test_bad_token_shows_the_form_again_with_a_message(client: TestClient, world: World) -> None:
    resp = _login(client, "pdm_wrong")
    assert resp.status_code == 401
    assert "not accepted" in resp.text and 'name="token"' in resp.text
    assert "podium_token" not in client.cookies


def test_login_needs_the_csrf_token(client: TestClient, world: World) -> None:
    client.get("/login")
    resp = client.post(
        "/login",
        data={"token": world.tokens["alpha"], "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert resp.status_code == 403 and "expired" in resp.text
    assert "podium_token" not in client.cookies
    fresh = TestClient(client.app)  # no CSRF cookie at all, as from another site's form
    resp = fresh.post("/login", data={"token": world.tokens["alpha"], "csrf_token": ""})
    assert resp.status_code == 403


def test_login_goes_back_only_to_local_pages(client: TestClient, world: World) -> None:
    resp = _login(client, world.tokens["alpha"], next_=f"/submissions/{world.failed}")
    assert resp.headers["location"] == f"/submissions/{world.failed}"
    resp = _login(client, world.tokens["alpha"], next_="//elsewhere.example/x")
    assert resp.headers["location"] == "/submissions"


def test_logout_needs_csrf_and_clears_the_cookie(client: TestClient, world: World) -> None:
    _login(client, world.tokens["alpha"])
    assert client.post("/logout", data={"csrf_token": "x"}).status_code == 403
    resp = client.post(
        "/logout", data={"csrf_token": client.cookies["podium_csrf"]}, follow_redirects=False
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    assert "podium_token" not in client.cookies
    assert client.get("/submissions", follow_redirects=False).status_code == 303


def test_pages_that_need_login_redirect_there(client: TestClient, world: World) -> None:
    resp = client.get("/submissions", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=%2Fsubmissions"
    resp = client.get(f"/submissions/{world.failed}", follow_redirects=False)
    assert resp.headers["location"] == f"/login?next=%2Fsubmissions%2F{world.failed}"


def test_a_revoked_token_is_logged_out(
    client: TestClient, settings: Settings, world: World
) -> None:
    client.cookies.set("podium_token", world.tokens["alpha"])
    assert client.get("/submissions", follow_redirects=False).status_code == 200
    with session_scope(settings.database_url) as session:
        for token in session.query(ApiToken).all():
            token.revoked_at = utcnow()
    assert client.get("/submissions", follow_redirects=False).status_code == 303


def test_submission_list_is_the_teams_own_or_everything_for_organizers(
    client: TestClient, world: World
) -> None:
    client.cookies.set("podium_token", world.tokens["alpha"])
    html = client.get("/submissions").text
    assert f"/submissions/{world.failed}" in html and f"/submissions/{world.running}" in html
    assert f"/submissions/{world.other_team}" not in html
    assert "build_failed" in html and "evaluating" in html
    client.cookies.set("podium_token", world.tokens["organizer"])
    html = client.get("/submissions").text
    assert f"/submissions/{world.other_team}" in html and "All submissions" in html


def test_submission_page_for_its_team_and_organizers_only(client: TestClient, world: World) -> None:
    client.cookies.set("podium_token", world.tokens["alpha"])
    resp = client.get(f"/submissions/{world.failed}")
    assert resp.status_code == 200
    assert FAILURE in resp.text and "build_failed" in resp.text
    assert "build line 300" in resp.text and "build line 100\n" not in resp.text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in resp.text and "<b>not bold" not in resp.text
    scored_page = client.get(f"/submissions/{world.scored}").text
    assert 'data-scenario="mmlu"' in scored_page and f'data-scenario="{HIDDEN}"' not in scored_page
    client.cookies.set("podium_token", world.tokens["beta"])
    resp = client.get(f"/submissions/{world.failed}")
    assert resp.status_code == 404 and "Not found" in resp.text and FAILURE not in resp.text
    client.cookies.set("podium_token", world.tokens["organizer"])
    scored_page = client.get(f"/submissions/{world.scored}").text
    assert f'data-scenario="{HIDDEN}"' in scored_page
    assert client.get("/submissions/nope").status_code == 404


def test_running_submission_page_refreshes_itself(client: TestClient, world: World) -> None:
    client.cookies.set("podium_token", world.tokens["alpha"])
    html = client.get(f"/submissions/{world.running}").text
    assert 'data-terminal="false"' in html and "/static/podium.js" in html
    assert "3 / 10 requests" in html and 'http-equiv="refresh"' in html
    assert 'data-terminal="true"' in client.get(f"/submissions/{world.failed}").text


def test_team_names_and_logs_are_escaped(client: TestClient, settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    scored(settings, XSS, {"mmlu": 0.5})
    html = client.get("/leaderboard").text
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 3  # table, chart legend, chart description


def test_static_files_and_nothing_else(client: TestClient) -> None:
    css = client.get("/static/podium.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/podium.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/conftest.py").status_code == 404
    assert client.get("/static/..%2Frouter.py").status_code == 404


def test_admin_actions_from_the_submission_page(
    client: TestClient, world: World, settings: Settings
) -> None:
    from app.auth.models import Role
    from app.auth.service import create_token
    from app.kit.db import session_scope

    with session_scope(settings.database_url) as session:
        admin_token = create_token(session, Role.admin)
    page = f"/submissions/{world.scored}"
    # A team sees no admin buttons, and cannot post the forms either.
    _login(client, world.tokens["alpha"])
    assert 'id="admin-actions"' not in client.get(page).text
    denied = client.post(
        f"{page}/actions/baseline",
        data={"csrf_token": client.cookies["podium_csrf"], "baseline": "on"},
        follow_redirects=False,
    )
    assert denied.status_code == 403
    _login(client, admin_token)
    assert 'id="admin-actions"' in client.get(page).text
    # Without the form's CSRF token nothing happens.
    stale = client.post(f"{page}/actions/disqualify", data={"reason": "x"}, follow_redirects=False)
    assert stale.status_code == 403
    done = client.post(
        f"{page}/actions/disqualify",
        data={"csrf_token": client.cookies["podium_csrf"], "reason": "shared weights"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == page
    assert "Disqualified: shared weights" in client.get(page).text
    # A refused action shows the service's reason (no stored answers to rescore from here).
    refused = client.post(
        f"{page}/actions/rescore",
        data={"csrf_token": client.cookies["podium_csrf"]},
        follow_redirects=False,
    )
    assert refused.status_code == 409 and "re-run the submission instead" in refused.text
    audit = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {admin_token}"}).json()[
        "items"
    ]
    assert [(a["action"], a["details"]) for a in audit] == [
        ("disqualify", {"reason": "shared weights"})
    ]


def test_leaderboard_links_rows_to_submissions_for_who_may_see_them(
    client: TestClient, world: World
) -> None:
    public = client.get("/leaderboard", params={"competition": "comp"}).text
    assert 'href="/submissions/' not in public
    _login(client, world.tokens["alpha"])
    own = client.get("/leaderboard", params={"competition": "comp"}).text
    links = re.findall(r'<td class="team"><a href="/submissions/([0-9a-f]+)">([^<]*)</a>', own)
    assert [team for _, team in links] == ["alpha"]
    _login(client, world.tokens["organizer"])
    everything = client.get("/leaderboard", params={"competition": "comp"}).text
    linked = re.findall(
        r'<td class="team"><a href="/submissions/[0-9a-f]+">([^<]*)</a>', everything
    )
    assert linked == [*RANKED, "reference"]
