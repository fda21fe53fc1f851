"""What a submission's page says in each phase and outcome: the step within a phase, why there
are no scores, a build failure's log shown once, and the efficiency labels. Over HTTP, on SQLite
and PostgreSQL."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from app.config import Settings
from app.kit.db import session_scope
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus
from app.web.pages import EFFICIENCY_LABELS
from tests.web.conftest import World

TAIL = "\n".join(f"build line {i}" for i in range(281, 301))


def _page(client: TestClient, world: World, submission_id: str) -> str:
    client.cookies.set("podium_token", world.tokens["alpha"])
    resp = client.get(f"/submissions/{submission_id}")
    assert resp.status_code == 200
    return resp.text


def _stage(page: str) -> str:
    found = re.search(r'<p id="stage" class="stage">([^<]*)</p>', page)
    assert found is not None, page
    return found.group(1)


def test_a_failed_submission_says_why_it_has_no_scores(
    client: TestClient, world: World, settings: Settings
) -> None:
    page = _page(client, world, world.failed)
    assert "No scores: the submission failed (build_failed)." in page
    assert "No scores yet" not in page and 'id="stage"' not in page
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, world.failed)
        assert row is not None
        row.status = SubmissionStatus.cancelled
    assert "No scores: the submission was cancelled." in _page(client, world, world.failed)


def test_a_build_failure_shows_the_log_tail_once(
    client: TestClient, world: World, settings: Settings
) -> None:
    # As docker_build writes a failed build's message: headline, marker, the log's last lines.
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, world.failed)
        assert row is not None
        row.failure_message = (
            f"build failed at step 3/4: exit code 1\n--- last log lines ---\n{TAIL}"
        )
    page = html.unescape(_page(client, world, world.failed))
    assert page.count("build line 290") == 1  # in the build log only
    message = re.search(r'<pre id="failure-message">(.*?)</pre>', page, re.S)
    assert message is not None
    assert message.group(1).startswith("build failed at step 3/4: exit code 1")
    assert "the build log below" in message.group(1) and "build line" not in message.group(1)

    # Without a stored build log the message keeps its lines: they are all there is.
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, world.failed)
        assert row is not None
        row.build_log = ""
    assert html.unescape(_page(client, world, world.failed)).count("build line 290") == 1


def test_each_step_of_a_submission_in_flight_is_named(
    client: TestClient, world: World, settings: Settings
) -> None:
    def set_state(status: SubmissionStatus, evaluation: EvaluationStatus, total: int) -> str:
        with session_scope(settings.database_url) as session:
            row = session.get(Submission, world.running)
            assert row is not None
            row.status = status
            ev = session.query(Evaluation).filter_by(submission_id=world.running).one()
            ev.status, ev.progress_total, ev.progress_done = evaluation, total, 0
        return _stage(_page(client, world, world.running))

    S, E = SubmissionStatus, EvaluationStatus
    assert set_state(S.queued, E.queued, 0) == "Waiting for a worker to build it."
    assert set_state(S.building, E.queued, 0).startswith("Building the image")
    assert set_state(S.evaluating, E.queued, 0).startswith("Built; waiting for a free")
    assert set_state(S.evaluating, E.running, 0).startswith("Starting the server")
    assert set_state(S.evaluating, E.running, 40).startswith("Sending the suite's requests")
    assert "0 / 40 requests" in _page(client, world, world.running)


def test_summed_inference_time_says_it_is_a_sum(
    client: TestClient, world: World, settings: Settings
) -> None:
    with session_scope(settings.database_url) as session:
        ev = session.query(Evaluation).filter_by(submission_id=world.scored).one()
        ev.efficiency = {"total_inference_s": 12.5, "latency_p50_s": 0.5}
    page = _page(client, world, world.scored)
    row = re.search(r'<tr><th scope="row">([^<]*)</th><td class="num">12.500</td></tr>', page)
    assert row is not None and row.group(1) == EFFICIENCY_LABELS["total_inference_s"]
    assert "summed over requests in flight" in row.group(1)


def test_every_page_links_a_favicon_that_is_served(client: TestClient, world: World) -> None:
    for path in ("/", "/leaderboard", "/login", f"/submissions/{world.failed}"):
        client.cookies.set("podium_token", world.tokens["alpha"])
        page = client.get(path).text
        found = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
        assert found is not None, path
        icon = client.get(found.group(1))
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        assert icon.text.startswith("<svg")
