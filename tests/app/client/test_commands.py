"""`podium submit / status / leaderboard` against the real app served by uvicorn.

No worker runs: the test moves submissions through their statuses by writing the rows, the way a
worker would, while the CLI follows.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.client.api import PodiumApi
from app.client.commands import follow_submission
from app.client.config import ClientConfig
from app.client.errors import EXIT_CLIENT_ERROR, ApiError
from app.config import Settings
from app.kit.db import session_scope
from app.queue import BUILD_TASK, RecordingQueue
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from tests.app.client.conftest import podium, token_of
from tests.app.factories import competition, scored

DOCKERFILE = "FROM scratch\nCOPY server.py /server.py\n"


def _context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / ".git").mkdir(parents=True)
    (ctx / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ctx / "data").mkdir()
    (ctx / "data" / "big.bin").write_bytes(b"x" * 1000)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "server.py").write_text("print('hi')\n")
    (ctx / "notes.log").write_text("scratch\n")
    (ctx / ".dockerignore").write_text("# local files\n*.log\ndata\n")
    return ctx


def _configure(config_file: Path, server: str, headers: dict[str, str]) -> None:
    config_file.write_text(f'server = "{server}"\ntoken = "{token_of(headers)}"\n')


def _only_submission(settings: Settings) -> Submission:
    # The API commits after its response is sent (FastAPI runs a request-scoped dependency's
    # exit after the response), so the row may lag the CLI's exit by a moment.
    deadline = time.monotonic() + 5
    while True:
        with session_scope(settings.database_url) as session:
            found = session.scalars(select(Submission)).one_or_none()
        if found is not None or time.monotonic() > deadline:
            assert found is not None
            return found
        time.sleep(0.02)


def _stored_context(settings: Settings, submission_id: str) -> set[str]:
    root = settings.data_dir / "contexts" / submission_id
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_submit_packs_uploads_and_creates_the_submission(
    config_file: Path,
    server: str,
    team_a: dict[str, str],
    settings: Settings,
    queue: RecordingQueue,
    tmp_path: Path,
) -> None:
    _configure(config_file, server, team_a)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"w" * 300_000)
    args = ["submit", str(_context(tmp_path)), "--weights", str(weights), "--no-follow"]
    result = podium(*args, "--name", "r=16", "--description", "first", "--chunk-size", "100000")
    assert result.exit_code == 0, result.output

    submission = _only_submission(settings)
    assert f"submission {submission.id} queued" in result.output
    assert f"podium status {submission.id}" in result.output
    assert (submission.name, submission.description) == ("r=16", "first")
    assert queue.sent == [(BUILD_TASK, (submission.id,))]
    # .dockerignore honoured (*.log, data/), .git never sent, the Dockerfile always.
    assert _stored_context(settings, submission.id) == {
        "Dockerfile",
        "server.py",
        ".dockerignore",
    }
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    if submission.weights_sha256 is None:
        # The server does not take `weights_upload` yet: the verified upload waits there.
        uploads = httpx.get(f"{server}/api/v1/uploads", headers=team_a).json()["items"]
        assert [(u["sha256"], u["complete"]) for u in uploads] == [(sha, True)]
    else:
        assert submission.weights_sha256 == sha


def test_submit_packs_a_weights_directory(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    model = tmp_path / "my-model"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "sub" / "model.safetensors").write_bytes(b"\x01" * 5000)
    (tmp_path / "blob").write_bytes(b"tokenizer")
    (model / "tokenizer.json").symlink_to(tmp_path / "blob")  # as in a Hugging Face cache
    result = podium("submit", str(_context(tmp_path)), "--weights", str(model), "--no-follow")
    assert result.exit_code == 0, result.output

    uploads = httpx.get(f"{server}/api/v1/uploads", headers=team_a).json()["items"]
    if uploads:  # not yet claimed by the submission service: look at what was sent
        path = settings.data_dir / "uploads" / uploads[0]["id"] / "data"
        assert uploads[0]["filename"] == "my-model.tar"
        with tarfile.open(fileobj=io.BytesIO(path.read_bytes())) as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert set(members) == {"config.json", "sub", "sub/model.safetensors", "tokenizer.json"}
            assert members["tokenizer.json"].isreg()  # the link was followed
            assert members["sub/model.safetensors"].uid == 0
    else:
        assert _only_submission(settings).weights_sha256 is not None


def test_submit_refuses_a_directory_without_dockerfile(
    config_file: Path, server: str, team_a: dict[str, str], tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    (tmp_path / "empty").mkdir()
    result = podium("submit", str(tmp_path / "empty"))
    assert result.exit_code == EXIT_CLIENT_ERROR
    assert "no Dockerfile" in result.output


Step = Callable[[Submission, Evaluation], None]


def _act_as_worker(settings: Settings, steps: list[Step]) -> None:
    """Wait for the CLI's submission, then apply `steps` to it one by one, like a worker."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with session_scope(settings.database_url) as session:
            if session.scalars(select(Submission)).first() is not None:
                break
        time.sleep(0.05)
    for step in steps:
        time.sleep(0.3)
        with session_scope(settings.database_url) as session:
            submission = session.scalars(select(Submission)).one()
            evaluation = session.scalars(select(Evaluation)).first()
            if evaluation is None:
                evaluation = Evaluation(submission_id=submission.id, suite_name="smoke")
                session.add(evaluation)
            step(submission, evaluation)


def _building(s: Submission, e: Evaluation) -> None:
    s.status = SubmissionStatus.building


def _evaluating(s: Submission, e: Evaluation) -> None:
    s.status = SubmissionStatus.evaluating
    e.status, e.progress_done, e.progress_total = EvaluationStatus.running, 3, 40


def _scored(s: Submission, e: Evaluation) -> None:
    s.status = SubmissionStatus.scored
    e.status, e.progress_done = EvaluationStatus.done, 40
    e.scores, e.overall = {"mmlu": 0.625, "gsm8k": 0.25}, 0.4375


def _build_failed(s: Submission, e: Evaluation) -> None:
    s.status = SubmissionStatus.failed
    s.failure_reason = FailureReason.build_failed
    s.failure_message = "RUN pip install failed with exit code 1"
    s.build_log = "\n".join(f"step {n}" for n in range(100)) + "\nERROR: no network\n"


def _follow_with_worker(settings: Settings, tmp_path: Path, steps: list[Step]) -> tuple[int, str]:
    worker = threading.Thread(target=_act_as_worker, args=(settings, steps))
    worker.start()
    try:
        result = podium("submit", str(_context(tmp_path)), "--poll-interval", "0.05")
    finally:
        worker.join()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_submit_follows_until_scored_and_prints_the_scores(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    code, output = _follow_with_worker(settings, tmp_path, [_building, _evaluating, _scored])
    assert code == 0, output
    for status in ("queued", "building", "evaluating", "scored"):
        assert status in output
    assert "mmlu" in output and "0.6250" in output and "gsm8k" in output
    assert "overall" in output and "0.4375" in output


def test_submit_follows_until_failed_and_prints_why(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    code, output = _follow_with_worker(settings, tmp_path, [_building, _build_failed])
    assert code == 1, output
    assert "build_failed" in output and "RUN pip install failed" in output
    assert "ERROR: no network" in output and "step 99" in output
    assert "step 10\n" not in output  # only the tail of the log


def test_status_one_shot(
    config_file: Path, server: str, team_a: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _configure(config_file, server, team_a)
    assert podium("submit", str(_context(tmp_path)), "--no-follow").exit_code == 0
    submission_id = _only_submission(settings).id

    result = podium("status", submission_id)
    assert result.exit_code == 0 and "queued" in result.output
    _act_as_worker(settings, [_evaluating])
    result = podium("status", submission_id)
    assert result.exit_code == 0 and "evaluating (3/40 requests)" in result.output
    _act_as_worker(settings, [_build_failed])
    result = podium("status", submission_id)
    assert result.exit_code == 1 and "build_failed" in result.output


def test_leaderboard_table(
    config_file: Path, server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_SERVER", server)  # public: no token needed
    competition(settings, [{"slug": "open", "leaderboard": {"mode": "mean", "entry": "best"}}])
    scored(settings, "alpha", {"mmlu": 0.8, "gsm": 0.6})
    scored(settings, "beta", {"mmlu": 0.5, "gsm": 0.5})

    result = podium("leaderboard", "--competition", "comp", "--phase", "open")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    alpha = next(line for line in lines if "alpha" in line)
    beta = next(line for line in lines if "beta" in line)
    assert lines.index(alpha) < lines.index(beta)
    assert "0.7000" in alpha and "0.8000" in alpha and "0.5000" in beta
    assert "mmlu" in result.output and "gsm" in result.output

    result = podium("leaderboard", "--competition", "nope")
    assert result.exit_code == EXIT_CLIENT_ERROR and "404" in result.output


def test_follow_gives_a_new_submission_time_to_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [httpx.Response(404, json={"detail": "no submission abc visible to you"})] * 2 + [
        httpx.Response(200, json={"id": "abc", "status": "scored", "progress": {}})
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    config = ClientConfig("http://podium.test", "t", "test", "test", Path("/nonexistent"))
    with PodiumApi(config, transport=transport) as api:
        assert follow_submission(api, "abc", 0.0, sleep=lambda _: None)["status"] == "scored"

    monkeypatch.setattr("app.client.commands.APPEAR_WITHIN_S", 0.0)  # long after creation
    answers[:] = [httpx.Response(404, json={"detail": "gone"})]
    with PodiumApi(config, transport=transport) as api, pytest.raises(ApiError):
        follow_submission(api, "abc", 0.0, sleep=lambda _: None)
