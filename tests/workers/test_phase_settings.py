"""A phase's settings reach the worker: suite (fitted to its context window), port, limits,
and re-runs agree with the worker on the suite's content hash."""

from __future__ import annotations

import evaluator
from app.auth.models import Role
from app.auth.service import Principal
from app.competitions.models import Phase
from app.config import Settings
from app.kit.db import session_scope
from app.queue import EVALUATE_TASK, RecordingQueue
from app.submissions import admin
from app.submissions.models import Evaluation, Submission, SubmissionStatus
from evaluator.testing.fake_server import FakeServerConfig
from tests.app.factories import competition
from tests.workers.test_flows import Harness
from workers import flows

ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)


def test_phase_settings_reach_the_container_and_the_suite(settings: Settings) -> None:
    competition(
        settings,
        [
            {
                "slug": "open",
                "context_window": 700,
                "port": 8000,
                "sandbox": {"memory_gb": 2, "cpus": 1, "pids_limit": 99, "tmpfs_gb": 1},
            }
        ],
    )
    harness = Harness(settings, FakeServerConfig(tokenizer="bytes"))
    sid = harness.submission()
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        sub.phase_id = session.query(Phase).one().id
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.scored, sub.failure_message
    fitted = evaluator.get_suite("smoke").with_context_window(700)
    assert ev is not None and ev.suite_hash == fitted.content_hash
    spec = harness.runtime.started[0]
    assert spec.port == 8000 and spec.memory_bytes == 2 * 1024**3
    assert spec.pids_limit == 99 and spec.tmpfs_bytes == 1024**3
    assert spec.nano_cpus == 1_000_000_000
    assert max(len(p.encode()) for p in harness.servers[0].stats.prompts) < 700

    queue = RecordingQueue()
    with session_scope(settings.database_url) as session:
        # Same phase, same window: the hash matches, so no suite needs naming.
        admin.rerun(session, settings, queue, ADMIN, sid)
    assert [name for name, _ in queue.sent] == [EVALUATE_TASK]
    with session_scope(settings.database_url) as session:
        kinds = sorted(e.kind for e in session.query(Evaluation).filter_by(submission_id=sid))
    assert kinds == ["initial", "rerun"]
