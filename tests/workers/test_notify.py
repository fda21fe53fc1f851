"""Webhooks: queued on every terminal status of a competition's submission, delivered with
retries on failure, to a listener on this machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.config import Settings
from app.kit.db import session_scope
from app.notifications import notify_if_finished
from app.queue import NOTIFY_TASK, RecordingQueue
from app.submissions.models import Submission
from tests.app.factories import competition, scored
from workers import tasks
from workers.notify import WebhookFailed, deliver


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, object]] = []
        self.raw: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                raw = self.rfile.read(length)
                receiver.raw.append((raw, self.headers.get("X-Podium-Signature")))
                receiver.bodies.append(json.loads(raw))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([503])
    yield r
    r.server.shutdown()


def test_terminal_status_queues_the_webhook_with_scores(settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    with session_scope(settings.database_url) as session:
        from app.competitions.models import Competition

        session.query(Competition).one().webhook_url = "http://127.0.0.1:9/hook"
    sid = scored(settings, "alpha", {"mmlu": 0.75})
    queue = RecordingQueue()
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None and notify_if_finished(session, queue, sub)
    assert len(queue.sent) == 1  # sent when the session committed
    ((name, (url, body)),) = queue.sent
    assert name == NOTIFY_TASK and url == "http://127.0.0.1:9/hook"
    assert body["submission_id"] == sid and body["team"] == "alpha"  # type: ignore[index]
    assert body["status"] == "scored" and body["scores"] == {"mmlu": 0.75}  # type: ignore[index]
    assert body["competition"] == "comp" and body["phase"] == "open"  # type: ignore[index]


def test_no_webhook_no_call(settings: Settings) -> None:
    competition(settings, [{"slug": "open"}])
    sid = scored(settings, "alpha", {"mmlu": 0.75})
    queue = RecordingQueue()
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None and not notify_if_finished(session, queue, sub)
    assert queue.sent == []


def test_delivery_retries_on_server_errors(receiver: Receiver) -> None:
    with pytest.raises(WebhookFailed, match="503"):
        deliver(receiver.url, {"submission_id": "x"})
    assert deliver(receiver.url, {"submission_id": "x"}) == 200
    assert receiver.bodies == [{"submission_id": "x"}] * 2
    # The Celery task retries exactly those failures, with backoff, a bounded number of times.
    assert tasks.notify_webhook.autoretry_for == (WebhookFailed,)
    assert tasks.notify_webhook.max_retries == 8 and tasks.notify_webhook.retry_backoff


def test_unreachable_receiver_is_a_retryable_failure() -> None:
    with pytest.raises(WebhookFailed, match="unreachable"):
        deliver("http://127.0.0.1:9/hook", {}, timeout_s=2)


def test_worker_flows_notify_on_failure_and_success(settings: Settings) -> None:
    from app.competitions.models import Competition, Phase
    from evaluator.testing.fake_server import FakeServerConfig
    from tests.workers.test_flows import Harness
    from workers import flows

    competition(settings, [{"slug": "open"}])
    with session_scope(settings.database_url) as session:
        session.query(Competition).one().webhook_url = "http://127.0.0.1:9/hook"
        phase_id = session.query(Phase).one().id
    harness = Harness(settings, FakeServerConfig())
    broken = harness.submission(dockerfile="FROM scratch\n# fake: build-fail\n")
    good = harness.submission()
    with session_scope(settings.database_url) as session:
        for sid in (broken, good):
            sub = session.get(Submission, sid)
            assert sub is not None
            sub.phase_id = phase_id
    harness.build(broken)
    harness.build(good)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    notified = [
        (args[1]["submission_id"], args[1]["status"])
        for name, args in harness.queue.sent
        if name == NOTIFY_TASK
    ]
    assert notified == [(broken, "failed"), (good, "scored")]


def test_signed_delivery_verifies_with_the_secret(receiver: Receiver) -> None:
    import hashlib
    import hmac

    receiver.statuses.clear()
    deliver(receiver.url, {"submission_id": "x", "status": "scored"}, secret="s3cret")
    deliver(receiver.url, {"submission_id": "y"})
    (signed_body, signature), (_, unsigned) = receiver.raw
    expected = hmac.new(b"s3cret", signed_body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert unsigned is None
