"""Layout a person would notice, measured in headless Chromium (see test_browser.py): the chart's
scenario names never run into each other, pages load without a 404 (the favicon), and the admin
buttons are styled. Skipped with the reason where /usr/bin/chromium is missing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.auth.models import Role
from app.auth.service import create_token
from app.config import Settings
from app.kit.db import session_scope
from tests.app.factories import competition, scored
from tests.web import test_browser
from tests.web.test_browser import log_in

# The browser, server and page fixtures of test_browser.py, shared.
browser = test_browser.browser
live_url = test_browser.live_url
page = test_browser.page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SIX = ["bbh", "bbq", "gsm", "mmlu", "summarization", "truthful_qa"]


def _board(settings: Settings, teams: int) -> None:
    competition(settings, [{"slug": "open", "suite": "neurips2023-open"}])
    for i in range(teams):
        scored(settings, f"team-{i}", {s: 0.2 + 0.1 * i for s in SIX})


def _labels(page: Page) -> list[dict[str, float]]:
    return page.eval_on_selector_all(
        "svg.bar-chart text.scenario-label",
        """els => els.map(e => {
            const r = e.getBoundingClientRect();
            return {left: r.left, right: r.right, chars: e.textContent.length,
                    x: Number(e.getAttribute('x')),
                    turned: e.hasAttribute('transform')};
        })""",
    )


@pytest.mark.parametrize("teams", [1, 2, 3])
def test_six_scenario_names_never_overlap(
    page: Page, settings: Settings, teams: int, tmp_path: Path
) -> None:
    _board(settings, teams)
    page.goto("/leaderboard")
    labels = _labels(page)
    assert [label["chars"] for label in labels] == [len(s) for s in SIX]
    spacing = labels[1]["x"] - labels[0]["x"]
    if labels[0]["turned"]:
        # Turned labels are parallel lines `spacing * sin(angle)` apart: more than a line high.
        transform = page.get_attribute("svg.bar-chart text.scenario-label", "transform") or ""
        angle = float(transform.removeprefix("rotate(-").split()[0])
        assert spacing * math.sin(math.radians(angle)) > 14
        assert min(label["left"] for label in labels) >= 0  # nothing cut at the left edge
    else:
        # Side by side, measured in the real font: the chart's width estimate held.
        for a, b in zip(labels, labels[1:], strict=False):
            assert a["right"] + 4 < b["left"], (a, b)
    page.screenshot(path=str(tmp_path / f"chart-{teams}.png"), full_page=True)


def test_pages_load_without_a_404_and_admin_buttons_are_styled(
    page: Page, settings: Settings, tmp_path: Path
) -> None:
    _board(settings, 1)
    sid = scored(settings, "team-9", {"mmlu": 0.5})
    with session_scope(settings.database_url) as session:
        admin = create_token(session, Role.admin)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/")
    page.goto("/leaderboard")
    log_in(page, admin)
    page.goto(f"/submissions/{sid}")
    page.wait_for_load_state("networkidle")
    assert missing == []
    # Headless Chromium asks for no icon by itself; a desktop browser asks for the linked one.
    icon = page.get_attribute('link[rel="icon"]', "href")
    assert icon is not None
    served = page.request.get(icon)
    assert served.status == 200 and served.headers["content-type"] == "image/svg+xml"
    button = page.locator("#admin-actions form[action$='/rerun'] button")
    background = button.evaluate("b => getComputedStyle(b).backgroundColor")
    radius = button.evaluate("b => getComputedStyle(b).borderTopLeftRadius")
    assert background == "rgb(11, 92, 173)" and radius == "4px"
    danger = page.locator("#admin-actions form[action$='/disqualify'] button")
    assert danger.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(180, 35, 24)"
    page.locator("#admin-actions").screenshot(path=str(tmp_path / "admin-actions.png"))
