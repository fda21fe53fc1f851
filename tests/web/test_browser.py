"""What a person sees, in Debian's headless Chromium driven by Playwright, against the real app
served by uvicorn on 127.0.0.1 (SQLite). CI fails here when /usr/bin/chromium is missing
(scripts/ensure-browser.sh installs it); elsewhere these tests are skipped with the reason."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app.config import Settings
from app.main import create_app
from app.queue import RecordingQueue
from tests.conftest import require
from tests.web.conftest import BASELINE, FAILURE, HIDDEN, RANKED, World, fill, finish, progress

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 15_000

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, RecordingQueue()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM} (scripts/ensure-browser.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


@pytest.fixture
def world(settings: Settings) -> World:
    return fill(settings)


def log_in(page: Page, token: str) -> None:
    page.goto("/login")
    page.fill("#token", token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r"/submissions$"))


def column(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def svg_texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_text_contents()]


def test_public_leaderboard(page: Page, world: World, tmp_path: Path) -> None:
    page.goto("/")
    page.click("section.competition h2 a")
    page.wait_for_url(re.compile(r"/leaderboard\?competition=comp$"))
    assert column(page, "#leaderboard tbody td.team") == [*RANKED, BASELINE]
    assert column(page, "#leaderboard tbody td.rank") == ["1", "2", "3", "4", "5", "6", "baseline"]
    assert column(page, "#leaderboard tbody td.overall")[:2] == ["0.750", "0.650"]
    baseline = page.locator("#leaderboard tbody tr.baseline")
    assert baseline.locator("td.team").inner_text() == BASELINE
    headers = column(page, "#leaderboard thead th")
    assert headers[:5] == ["Rank", "Team", "Overall", "gsm", "mmlu"]
    assert "Latency p50 (s)" in headers and "Tokens/s" in headers and HIDDEN not in headers
    assert "Mode: mean." in page.inner_text("p.rules")

    chart = page.locator("svg.bar-chart")
    assert chart.locator("rect.bar").count() == 10
    assert (chart.locator("title").first.text_content() or "").startswith("Scores of the top 5")
    assert "mmlu: alpha 0.800" in (chart.locator("desc").text_content() or "")
    assert svg_texts(page, "svg.bar-chart text.scenario-label") == ["gsm", "mmlu"]
    assert svg_texts(page, "svg.bar-chart text.legend-label")[0].startswith("1. alpha")
    mmlu_alpha = chart.locator('g[data-scenario="mmlu"] rect.bar[data-team="alpha"]')
    mmlu_delta = chart.locator('g[data-scenario="mmlu"] rect.bar[data-team="delta"]')
    assert float(mmlu_delta.get_attribute("height") or 0) > float(
        mmlu_alpha.get_attribute("height") or 0
    )
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000


def test_switching_track_changes_the_table(page: Page, world: World) -> None:
    page.goto("/leaderboard")
    page.click('nav[aria-label="Track"] >> text=rtx4090')
    page.wait_for_url(re.compile("track=rtx4090"))
    assert column(page, "#leaderboard tbody td.team") == ["eta"]
    current = page.locator('nav[aria-label="Track"] a[aria-current="page"]')
    assert current.inner_text() == "rtx4090"
    page.click('nav[aria-label="Phase"] >> text=Final')
    page.wait_for_url(re.compile("phase=final"))
    assert "No scored submission yet." in page.inner_text("#leaderboard")


def test_organizer_sees_the_hidden_scenario(page: Page, world: World) -> None:
    page.goto("/leaderboard")
    assert page.locator(f'#leaderboard th[data-scenario="{HIDDEN}"]').count() == 0
    log_in(page, world.tokens["organizer"])
    page.click("header >> text=Leaderboard")
    hidden = page.locator(f'#leaderboard th[data-scenario="{HIDDEN}"]')
    assert "hidden" in hidden.inner_text()
    assert page.locator("svg.bar-chart rect.bar").count() == 15
    page.click("header >> text=Log out")
    page.wait_for_url("**/")
    page.goto("/leaderboard")
    assert page.locator(f'#leaderboard th[data-scenario="{HIDDEN}"]').count() == 0


def test_bad_token_shows_the_error(page: Page, world: World) -> None:
    page.goto("/login")
    page.fill("#token", "pdm_not-a-real-token")
    page.click("form.login button[type=submit]")
    assert "not accepted" in page.inner_text("#login-error")
    assert page.url.endswith("/login")
    assert not [c for c in page.context.cookies() if c["name"] == "podium_token"]


def test_team_sees_its_failed_submission(page: Page, world: World) -> None:
    page.goto(f"/submissions/{world.failed}")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#token", world.tokens["alpha"])
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"**/submissions/{world.failed}")
    assert page.inner_text("#status") == "failed"
    assert page.inner_text("#failure-reason") == "build_failed"
    assert page.inner_text("#failure-message") == FAILURE
    log = page.inner_text("#build-log")
    assert log.splitlines()[0] == "build line 102" and "<b>not bold</b>" in log
    page.click("text=Submissions")
    names = column(page, "#submissions tbody tr td:nth-child(2)")
    assert names[:2] == ["lora r=16", "no-network build"]


def test_another_team_gets_not_found(page: Page, world: World) -> None:
    log_in(page, world.tokens["beta"])
    response = page.goto(f"/submissions/{world.failed}")
    assert response is not None and response.status == 404
    assert page.inner_text("h1") == "Not found"
    assert FAILURE not in page.content()


def test_running_submission_updates_itself(page: Page, world: World, settings: Settings) -> None:
    log_in(page, world.tokens["alpha"])
    page.goto(f"/submissions/{world.running}")
    assert page.inner_text("#status") == "evaluating"
    assert page.inner_text("#progress-text").startswith("3 / 10")
    assert "server: ready" in page.inner_text("#container-log")
    progress(settings, world.running, 7)
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^7 / 10"), timeout=WAIT_MS)
    finish(settings, world.running, {"mmlu": 0.95, "gsm": 0.85, HIDDEN: 0.5})
    expect(page.locator("#status")).to_have_text("scored", timeout=WAIT_MS)
    assert page.locator("#live").get_attribute("data-terminal") == "true"
    assert column(page, "#scores tbody td:first-child") == ["gsm", "mmlu"]
