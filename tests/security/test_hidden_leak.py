"""Issue 7, item 5: a team must learn nothing of the hidden scenarios, neither their prompts (a
server that prints what it is sent, read back through the logs) nor their names (the public
competition listing, the leaderboards, the pages). Real HTTP through the app, on SQLite and
PostgreSQL; the worker's side (the start-up log recorded at readiness) on the real flow with the
in-memory container runtime and a fake model server that prints every prompt."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import create_team, create_token
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import EVALUATE_TASK, RecordingQueue
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from app.submissions.storage import Storage
from app.submissions.views import WITHHELD_NOTE
from evaluator.testing.fake_server import FakeModelServer, FakeServerConfig
from tests.app.factories import competition, scored
from workers import flows
from workers.context import WorkerContext
from workers.gpus import GpuPool
from workers.sandbox.fake_runtime import FakeRuntime
from workers.sandbox.runtime import ContainerSpec

SUITE = "neurips2023-open"
HIDDEN = "bbq"
OPEN = {"mmlu": 0.8, "gsm": 0.7}
STARTUP = "loading weights from /weights\nUvicorn running on http://0.0.0.0:80\n"
HIDDEN_PROMPT = "The following are questions about social bias, answer Unknown if unsure 7731"
AFTER_READY = f"POST /process prompt={HIDDEN_PROMPT!r}\n"


@dataclass(frozen=True)
class World:
    team: dict[str, str]
    organizer: dict[str, str]
    hidden_sub: str
    """Team alpha's scored submission in the phase with a hidden scenario."""
    open_sub: str
    """Team alpha's scored submission in the phase without one."""


def _fill(settings: Settings) -> World:
    competition(
        settings,
        [
            {"slug": "open", "suite": SUITE, "hidden_scenarios": [HIDDEN]},
            {"slug": "plain", "suite": SUITE},
        ],
    )
    with session_scope(settings.database_url) as session:
        _, team_token = create_team(session, "alpha")
        organizer_token = create_token(session, Role.organizer)
    hidden_sub = scored(settings, "alpha", {**OPEN, HIDDEN: 0.9}, phase="open")
    # A phase that hides nothing (its suite scores only open scenarios here, so no name
    # hidden elsewhere shows up legitimately).
    open_sub = scored(settings, "alpha", dict(OPEN), phase="plain")
    with session_scope(settings.database_url) as session:
        for sid in (hidden_sub, open_sub):
            evaluation = session.query(Evaluation).filter_by(submission_id=sid).one()
            evaluation.startup_log = STARTUP
            evaluation.container_log = STARTUP + AFTER_READY
    return World(
        {"Authorization": f"Bearer {team_token}"},
        {"Authorization": f"Bearer {organizer_token}"},
        hidden_sub,
        open_sub,
    )


@pytest.fixture
def world(settings: Settings) -> World:
    return _fill(settings)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, RecordingQueue())) as c:
        yield c


def _login(client: TestClient, headers: dict[str, str]) -> None:
    client.get("/login")
    token = headers["Authorization"].removeprefix("Bearer ")
    resp = client.post(
        "/login",
        data={"token": token, "csrf_token": client.cookies["podium_csrf"]},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text


# -- prompts through the logs ------------------------------------------------------------------


def test_team_logs_stop_at_readiness_while_the_phase_has_hidden_scenarios(
    client: TestClient, world: World
) -> None:
    resp = client.get(f"/api/v1/submissions/{world.hidden_sub}/logs", headers=world.team)
    assert resp.status_code == 200, resp.text
    logs = resp.json()
    assert HIDDEN_PROMPT not in resp.text
    assert logs["container_log"].startswith(STARTUP)
    assert WITHHELD_NOTE in logs["container_log"]
    assert logs["container_log_withheld"] is True


def test_organizer_logs_are_whole(client: TestClient, world: World) -> None:
    resp = client.get(f"/api/v1/submissions/{world.hidden_sub}/logs", headers=world.organizer)
    assert resp.status_code == 200
    assert resp.json()["container_log"] == STARTUP + AFTER_READY
    assert resp.json()["container_log_withheld"] is False


def test_team_logs_are_whole_in_a_phase_without_hidden_scenarios(
    client: TestClient, world: World
) -> None:
    resp = client.get(f"/api/v1/submissions/{world.open_sub}/logs", headers=world.team)
    assert resp.json()["container_log"] == STARTUP + AFTER_READY
    assert resp.json()["container_log_withheld"] is False


def test_team_submission_page_stops_at_readiness(client: TestClient, world: World) -> None:
    _login(client, world.team)
    resp = client.get(f"/submissions/{world.hidden_sub}")
    assert resp.status_code == 200
    assert HIDDEN_PROMPT not in resp.text
    assert "Uvicorn running on http://0.0.0.0:80" in resp.text
    assert 'id="container-log-withheld"' in resp.text
    assert "withheld because this phase has hidden scenarios" in resp.text


def test_organizer_submission_page_shows_the_whole_log(client: TestClient, world: World) -> None:
    _login(client, world.organizer)
    resp = client.get(f"/submissions/{world.hidden_sub}")
    assert resp.status_code == 200
    assert HIDDEN_PROMPT in resp.text
    assert 'id="container-log-withheld"' not in resp.text


def test_per_instance_outputs_are_for_organizers_only(client: TestClient, world: World) -> None:
    url = f"/api/v1/submissions/{world.hidden_sub}/instances"
    assert client.get(url, headers=world.team).status_code == 403
    assert client.get(url, headers=world.organizer).status_code == 200


def test_failure_message_does_not_quote_the_server_to_a_team(
    client: TestClient, settings: Settings, world: World
) -> None:
    # A server that answers a hidden prompt with an error echoing it: the runner quotes the
    # first failed answer in the failure message.
    failed = scored(settings, "alpha", None, phase="open", status=SubmissionStatus.failed)
    message = (
        "12 of 40 requests failed, more than the 10% allowed (12 protocol error); first error: "
        f"POST /process answered HTTP 500: {HIDDEN_PROMPT}"
    )
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, failed)
        assert row is not None
        row.failure_reason = FailureReason.protocol_error
        row.failure_message = message
    team = client.get(f"/api/v1/submissions/{failed}", headers=world.team)
    assert HIDDEN_PROMPT not in team.text
    assert team.json()["failure_message"].startswith("12 of 40 requests failed")
    assert "withheld" in team.json()["failure_message"]
    organizer = client.get(f"/api/v1/submissions/{failed}", headers=world.organizer)
    assert organizer.json()["failure_message"] == message
    _login(client, world.team)
    page = client.get(f"/submissions/{failed}")
    assert page.status_code == 200 and HIDDEN_PROMPT not in page.text


# -- names -------------------------------------------------------------------------------------


def _team_and_anonymous_views(client: TestClient, world: World) -> Iterator[tuple[str, str]]:
    """(what, body) for every public or team route and page that describes the competition."""
    for who, headers in (("anonymous", {}), ("team", world.team)):
        for path in (
            "/api/v1/competitions",
            "/api/v1/competitions/comp",
            "/api/v1/leaderboard?competition=comp&phase=open",
            "/api/v1/leaderboard?competition=comp&phase=overall",
            "/api/v1/leaderboard?competition=comp&phase=open&format=csv",
        ):
            resp = client.get(path, headers=headers)
            assert resp.status_code == 200, (who, path, resp.text)
            yield f"{who} {path}", resp.text
    for path in (f"/api/v1/submissions/{world.hidden_sub}", "/api/v1/submissions"):
        resp = client.get(path, headers=world.team)
        assert resp.status_code == 200, (path, resp.text)
        yield f"team {path}", resp.text
    pages = [
        "/",
        "/leaderboard?competition=comp&phase=open",
        "/leaderboard?competition=comp&phase=overall",
        "/leaderboard/export?format=csv&competition=comp&phase=open",
        "/leaderboard/export?format=json&competition=comp&phase=open",
    ]
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.text)
        yield f"anonymous page {path}", resp.text
    _login(client, world.team)
    for path in [*pages, "/submissions", f"/submissions/{world.hidden_sub}"]:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.text)
        yield f"team page {path}", resp.text


def test_no_public_or_team_view_names_a_hidden_scenario(client: TestClient, world: World) -> None:
    seen = dict(_team_and_anonymous_views(client, world))
    assert len(seen) > 10
    leaks = [what for what, body in seen.items() if HIDDEN in body]
    assert leaks == []
    # The open ones are there, so the check above looked at real content.
    assert "mmlu" in seen["anonymous /api/v1/leaderboard?competition=comp&phase=open"]


def test_competitions_give_teams_the_count_and_organizers_the_names(
    client: TestClient, world: World
) -> None:
    anonymous = client.get("/api/v1/competitions").json()["items"][0]["phases"]
    team = client.get("/api/v1/competitions/comp", headers=world.team).json()["phases"]
    organizer = client.get("/api/v1/competitions", headers=world.organizer).json()
    for phases in (anonymous, team):
        by_slug = {p["slug"]: p for p in phases}
        assert by_slug["open"]["hidden_scenarios"] == []
        assert by_slug["open"]["hidden_scenario_count"] == 1
    by_slug = {p["slug"]: p for p in organizer["items"][0]["phases"]}
    assert by_slug["open"]["hidden_scenarios"] == [HIDDEN]
    assert by_slug["plain"]["hidden_scenarios"] == []


def test_team_submission_has_no_hidden_names_organizer_has_them(
    client: TestClient, world: World
) -> None:
    team = client.get(f"/api/v1/submissions/{world.hidden_sub}", headers=world.team).json()
    assert team["hidden_scenarios"] == [] and team["hidden_scenario_count"] == 1
    assert set(team["scores"]) == set(OPEN)
    organizer = client.get(
        f"/api/v1/submissions/{world.hidden_sub}", headers=world.organizer
    ).json()
    assert organizer["hidden_scenarios"] == [HIDDEN] and HIDDEN in organizer["scores"]
    _login(client, world.organizer)
    assert HIDDEN in client.get("/leaderboard?competition=comp&phase=open").text


# -- the worker records the start-up log at readiness ------------------------------------------


class PrintingServer:
    """A container whose server prints a start-up banner, then every prompt it is sent."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = FakeRuntime(endpoint_factory=self._serve)
        self.queue = RecordingQueue()
        self.ctx = WorkerContext(
            settings, self.runtime, GpuPool([], settings.data_dir / "gpu"), self.queue
        )
        self.settings = settings
        self.container = ""
        self.prompts = 0

    def _answer(self, prompt: str) -> str:
        self.prompts += 1
        self.runtime.write_logs(self.container, f"PROMPT {prompt!r}\n")
        return " A"

    @contextlib.contextmanager
    def _serve(self, spec: ContainerSpec) -> Iterator[str]:
        self.container = spec.name
        self.runtime.write_logs(spec.name, STARTUP)
        with FakeModelServer(FakeServerConfig(answer=self._answer)) as server:
            yield server.base_url

    def submit(self) -> str:
        with session_scope(self.settings.database_url) as session:
            team, _ = create_team(session, f"team-{uuid.uuid4().hex[:12]}")
            sub = Submission(team_id=team.id, context_sha256="0" * 64)
            session.add(sub)
            session.flush()
            sid = sub.id
        context = Storage(self.settings.data_dir).context_dir(sid)
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text("FROM scratch\n")
        flows.build_submission(self.ctx, sid)
        assert self.queue.sent and self.queue.sent[-1][0] == EVALUATE_TASK
        flows.evaluate(self.ctx, str(self.queue.sent[-1][1][0]))
        return sid


def test_worker_records_the_log_at_readiness_as_the_startup_log(settings: Settings) -> None:
    server = PrintingServer(settings)
    sid = server.submit()
    with session_scope(settings.database_url) as session:
        submission = session.get(Submission, sid)
        assert submission is not None
        assert submission.status is SubmissionStatus.scored, submission.failure_message
        evaluation = session.query(Evaluation).filter_by(submission_id=sid).one()
        assert evaluation.status is EvaluationStatus.done
        assert server.prompts > 0 and "PROMPT " in evaluation.container_log
        assert evaluation.startup_log == STARTUP
    assert server.runtime.live_containers() == []
