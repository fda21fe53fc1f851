"""A server that dies mid-evaluation, and an admin cancelling a running evaluation."""

from __future__ import annotations

import threading
import time

from app.auth.models import Role
from app.auth.service import Principal
from app.config import Settings
from app.kit.db import session_scope
from app.submissions import admin
from app.submissions.models import Evaluation, EvaluationStatus, SubmissionStatus
from evaluator.testing.fake_server import FakeServerConfig
from tests.workers.test_flows import Harness
from workers import flows

ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)


def test_server_dying_mid_evaluation_is_crashed(settings: Settings) -> None:
    holder: dict[str, Harness] = {}
    answered = 0

    def answer(_prompt: str) -> str:
        nonlocal answered
        answered += 1
        if answered > 5:
            h = holder["h"]
            live = h.runtime.live_containers()
            if live and h.runtime.state(live[0]).running:
                h.runtime.crash(live[0], exit_code=139, logs="Segmentation fault\n")
            raise RuntimeError("server is gone")
        return " A"

    harness = Harness(
        settings.model_copy(update={"eval_concurrency": 1, "heartbeat_s": 0.1}),
        FakeServerConfig(answer=answer),
    )
    holder["h"] = harness
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == "crashed"
    assert "exit code 139" in (sub.failure_message or "")
    assert ev is not None and "Segmentation fault" in ev.container_log
    assert harness.runtime.live_containers() == []


def test_admin_cancel_stops_a_running_evaluation(settings: Settings) -> None:
    fast_beat = settings.model_copy(update={"heartbeat_s": 0.05, "eval_concurrency": 1})
    harness = Harness(fast_beat, FakeServerConfig(latency_s=0.05))
    sid = harness.submission()
    harness.build(sid)
    eval_id = harness.evaluation_id()

    def cancel_when_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if harness.servers and harness.servers[0].stats.process_requests >= 3:
                break
            time.sleep(0.02)
        with session_scope(settings.database_url) as session:
            admin.cancel(session, ADMIN, sid, "wrong model uploaded")

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    started = time.monotonic()
    flows.evaluate(harness.ctx, eval_id)
    canceller.join()
    sub, _ = harness.get(sid)
    with session_scope(settings.database_url) as session:
        ev = session.get(Evaluation, eval_id)
        assert ev is not None and ev.status is EvaluationStatus.cancelled
    assert sub.status is SubmissionStatus.cancelled
    assert sub.failure_message == "wrong model uploaded"
    # It stopped early: far fewer than the 40 requests of the suite were sent.
    assert harness.servers[0].stats.process_requests < 20
    assert harness.runtime.live_containers() == []
    assert time.monotonic() - started < 30


def test_server_that_never_answers_is_start_timeout(settings: Settings) -> None:
    harness = Harness(settings.model_copy(update={"start_timeout_s": 1.5}), FakeServerConfig())
    harness.on_start.append("hang")
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, _ = harness.get(sid)
    assert sub.status is SubmissionStatus.failed
    assert sub.failure_reason is not None and sub.failure_reason.value == "start_timeout"
    assert "did not answer POST /tokenize on port 80 within 2s" in (sub.failure_message or "")
    assert harness.runtime.live_containers() == []
