"""Image garbage collection under the disk budget, and what a pruned image means for a run."""

from __future__ import annotations

from app.auth.models import Role
from app.auth.service import Principal
from app.config import Settings
from app.kit.db import session_scope
from app.queue import BUILD_TASK, RecordingQueue
from app.submissions import admin
from app.submissions.models import SubmissionStatus
from evaluator.testing.fake_server import FakeServerConfig
from tests.workers.test_flows import Harness
from workers import flows
from workers.reaper import IMAGE_LABEL, reap
from workers.sandbox.fake_runtime import FakeRuntime

ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)


def test_reaper_prunes_images_beyond_the_budget(settings: Settings) -> None:
    runtime = FakeRuntime()
    for i in range(4):
        runtime.add_image(f"podium/submission:{i}", labels={IMAGE_LABEL: str(i)}, size=100)
    small = settings.model_copy(update={"image_disk_budget_bytes": 250})
    report = reap(small, RecordingQueue(), runtime=runtime)
    assert len(report.pruned_images) == 2
    assert len(runtime.removed_images) == 2


def test_pruned_image_fails_clearly_and_a_rerun_rebuilds(settings: Settings) -> None:
    harness = Harness(settings, FakeServerConfig())
    sid = harness.submission()
    harness.build(sid)
    sub, _ = harness.get(sid)
    assert sub.image_id is not None
    harness.runtime.remove_image(sub.image_id)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, _ = harness.get(sid)
    assert sub.status is SubmissionStatus.failed and sub.image_id is None
    assert sub.failure_reason is not None and sub.failure_reason.value == "internal_error"
    assert "removed to free disk space" in (sub.failure_message or "")
    queue = RecordingQueue()
    with session_scope(settings.database_url) as session:
        rerun = admin.rerun(session, settings, queue, ADMIN, sid)
        assert rerun.status is SubmissionStatus.queued
    assert queue.sent == [(BUILD_TASK, (sid,))]
