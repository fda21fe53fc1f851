"""What `podium` shows while a submission moves (the build and run phases, live), of a failed
build (its log once), and of a leaderboard (efficiency columns, which board was picked).
Against the real app served by uvicorn; the test writes the rows as a worker would."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.client.api import PodiumApi
from app.client.commands import follow_submission
from app.client.config import ClientConfig
from app.competitions.config import CompetitionConfig
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.submissions.models import Evaluation, EvaluationStatus, FailureReason, Submission
from app.submissions.models import SubmissionStatus as S
from tests.app.client.conftest import podium
from tests.app.client.test_commands import (
    _act_as_worker,
    _building,
    _configure,
    _context,
    _follow_with_worker,
    _only_submission,
)
from tests.app.factories import competition, scored

LOG = "\n".join(f"step {n}" for n in range(100)) + "\nERROR: no network\n"


def _waiting_for_gpu(s: Submission, e: Evaluation) -> None:
    s.status = S.evaluating


def _starting(s: Submission, e: Evaluation) -> None:
    e.status = EvaluationStatus.running


def _planned(s: Submission, e: Evaluation) -> None:
    e.progress_done, e.progress_total = 0, 40


def _failed(s: Submission, e: Evaluation) -> None:
    s.status = S.failed
    e.status = EvaluationStatus.failed
    s.failure_reason = FailureReason.crashed
    s.failure_message = "the server exited before it answered"


def _build_failed_with_tail(s: Submission, e: Evaluation) -> None:
    # As docker_build writes it: the headline, then the log's last lines.
    s.status = S.failed
    s.failure_reason = FailureReason.build_failed
    s.failure_message = "build failed at step 99: no network\n--- last log lines ---\n" + "\n".join(
        LOG.splitlines()[-20:]
    )
    s.build_log = LOG


def test_status_follow_shows_each_phase_as_it_happens(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    assert podium("submit", str(_context(tmp_path)), "--no-follow").exit_code == 0
    submission_id = _only_submission(settings).id
    steps = [_building, _waiting_for_gpu, _starting, _planned, _failed]
    worker = threading.Thread(target=_act_as_worker, args=(settings, steps))
    worker.start()
    try:
        result = podium("status", submission_id, "--follow", "--poll-interval", "0.05")
    finally:
        worker.join()
    assert result.exit_code == 1, result.output
    lines = result.output
    order = [
        "queued (waiting for a worker to build it)",
        "building (building the image",
        "evaluating (built; waiting for a free evaluation worker)",
        "evaluating (starting the server, waiting until it answers)",
        "failed",
    ]
    positions = [lines.find(text) for text in order]
    assert -1 not in positions and positions == sorted(positions), lines
    assert "crashed" in lines


def test_a_phase_over_between_two_polls_is_still_named(capsys: pytest.CaptureFixture[str]) -> None:
    answers = [
        httpx.Response(200, json={"id": "abc", "status": "queued", "progress": {}}),
        httpx.Response(200, json={"id": "abc", "status": "evaluating", "progress": {}}),
        httpx.Response(200, json={"id": "abc", "status": "scored", "progress": {}}),
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    config = ClientConfig("http://podium.test", "t", "test", "test", Path("/nonexistent"))
    with PodiumApi(config, transport=transport) as api:
        follow_submission(api, "abc", 0.0, sleep=lambda _: None)
    err = capsys.readouterr().err
    assert err.index("queued") < err.index("building (over between two looks)")
    assert err.index("building (over") < err.index("evaluating") < err.index("scored")


def test_a_failed_build_shows_its_log_tail_once(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    code, output = _follow_with_worker(settings, tmp_path, [_building, _build_failed_with_tail])
    assert code == 1, output
    assert "build failed at step 99: no network" in output
    assert output.count("ERROR: no network") == 1 and output.count("step 98\n") == 1
    assert "--- last log lines ---" not in output


def test_leaderboard_shows_efficiency_and_which_board_was_picked(
    config_file: Path, server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_SERVER", server)
    competition(settings, [{"slug": "open"}], tracks=("a100", "rtx4090"))
    opened = (utcnow() - timedelta(days=300)).isoformat()
    older = CompetitionConfig.model_validate(
        {
            "slug": "older",
            "tracks": [{"slug": "main"}],
            "phases": [{"slug": "p", "suite": "smoke", "opens_at": opened}],
        }
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, older)
    scored(settings, "alpha", {"mmlu": 0.8}, track="a100")  # latency 0.5 s, 42 tokens/s

    result = podium("leaderboard")
    assert result.exit_code == 0, result.output
    assert "showing competition comp (others: older; choose with --competition)" in result.output
    assert "track a100 (others: rtx4090; --track)" in result.output
    assert "latency p50 (s)" in result.output and "tokens/s" in result.output
    alpha = next(line for line in result.output.splitlines() if "alpha" in line)
    assert "0.8000" in alpha and "0.50" in alpha and "42.0" in alpha

    named = podium("leaderboard", "--competition", "older")
    assert named.exit_code == 0 and "showing competition" not in named.output
