"""The operations page: who may see it, and what it shows of a competition in every state (the
world of tests/web/conftest.py, a worker beat with a leased GPU), in the HTML and in Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from app import presence
from app.config import Settings
from app.presence import WorkerBeat
from tests.web.conftest import FAILURE, World
from tests.web.test_browser import browser, live_url, log_in, page  # noqa: F401

BEAT = WorkerBeat(
    name="celery@gpu-host-1",
    host="gpu-host-1",
    pid=4242,
    queues=["evaluate"],
    gpus=["0", "1"],
    gpus_leased=["1"],
    engine="ok",
    images_bytes=3 * 1024**3,
)


def _publish(settings: Settings) -> None:
    presence.publish(settings, WorkerBeat(**{**BEAT.__dict__, "at": time.time()}))
    lost = {**BEAT.__dict__, "name": "celery@old-host", "at": time.time() - 3600}
    presence.publish(settings, WorkerBeat(**lost))


def test_only_organizers_and_admins(client: TestClient, world: World) -> None:
    anonymous = client.get("/admin/ops", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fadmin%2Fops"
    client.cookies.set("podium_token", world.tokens["alpha"])
    refused = client.get("/admin/ops")
    assert refused.status_code == 403
    assert "organizers and admins" in refused.text and world.failed not in refused.text


def test_shows_work_workers_failures_and_disk(
    client: TestClient, world: World, settings: Settings
) -> None:
    _publish(settings)
    client.cookies.set("podium_token", world.tokens["organizer"])
    answer = client.get("/admin/ops")
    assert answer.status_code == 200, answer.text
    html = answer.text
    running = re.search(
        rf'<tr class="work" data-submission="{world.running}">(.*?)</tr>', html, re.S
    )
    assert running is not None, html
    assert "evaluating" in running.group(1) and "3 / 10" in running.group(1)
    assert 'class="worker alive" data-worker="celery@gpu-host-1"' in html
    assert 'class="worker lost" data-worker="celery@old-host"' in html
    assert "1 / 2:" in html and "1 (leased)" in html
    assert "3.0 GB of 200.0 GB" in html
    failure = re.search(rf'data-submission="{world.failed}">(.*?)</tr>', html, re.S)
    assert failure is not None and "build_failed" in failure.group(1)
    assert FAILURE in failure.group(1)
    assert "PODIUM_DISK_FREE_FLOOR_BYTES" in html and "Room for new uploads" in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_in_the_browser(page: Page, world: World, settings: Settings, tmp_path: Path) -> None:  # noqa: F811
    _publish(settings)
    log_in(page, world.tokens["organizer"])
    page.goto("/admin/ops")
    row = page.locator(f'#work tr[data-submission="{world.running}"]')
    assert row.locator("td.stage").inner_text().strip() == "evaluating"
    assert "3 / 10" in row.locator("td.progress").inner_text()
    assert row.locator("td.team").inner_text().strip() == "alpha"
    worker = page.locator('#worker-list tr[data-worker="celery@gpu-host-1"]')
    assert "alive" in worker.inner_text() and "1 / 2" in worker.locator("td.gpus").inner_text()
    assert "lost" in page.locator('#worker-list tr[data-worker="celery@old-host"]').inner_text()
    failure = page.locator(f'#failure-list tr[data-submission="{world.failed}"]')
    assert failure.locator("td.reason-code").inner_text().strip() == "build_failed"
    assert "Room for new uploads" in page.locator("#disk").inner_text()
    page.screenshot(path=str(tmp_path / "ops.png"), full_page=True)
    assert (tmp_path / "ops.png").stat().st_size > 10_000
