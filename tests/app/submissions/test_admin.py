"""Admin actions through the API: cancel, re-run, baseline, disqualify, and their audit trail."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.auth.models import Role
from app.auth.service import create_token
from app.config import Settings
from app.kit.db import session_scope
from app.queue import BUILD_TASK, EVALUATE_TASK, RecordingQueue
from app.submissions.models import Evaluation, EvaluationStatus, SubmissionStatus
from tests.app.factories import scored


def _admin(settings: Settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        return {"Authorization": f"Bearer {create_token(session, Role.admin)}"}


def test_cancel_running_then_refuse_second_cancel(
    settings: Settings, client: TestClient, organizer: dict[str, str]
) -> None:
    admin = _admin(settings)
    sid = scored(
        settings, "alpha", None, phase=None, track=None, status=SubmissionStatus.evaluating
    )
    with session_scope(settings.database_url) as session:
        session.add(
            Evaluation(submission_id=sid, suite_name="smoke", status=EvaluationStatus.running)
        )
    resp = client.post(
        f"/api/v1/submissions/{sid}/cancel", headers=admin, json={"reason": "stuck for hours"}
    )
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert resp.json()["failure_message"] == "stuck for hours"
    with session_scope(settings.database_url) as session:
        ev = session.query(Evaluation).filter_by(submission_id=sid).one()
        assert ev.status is EvaluationStatus.cancelled  # the worker's heartbeat kills it
    again = client.post(f"/api/v1/submissions/{sid}/cancel", headers=admin, json={})
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    audit = client.get("/api/v1/audit", headers=organizer).json()["items"]
    assert [(a["action"], a["target_id"], a["details"]) for a in audit] == [
        ("cancel", sid, {"reason": "stuck for hours"})
    ]


def test_rerun_adds_an_evaluation_and_queues_it(
    settings: Settings, client: TestClient, queue: RecordingQueue
) -> None:
    admin = _admin(settings)
    sid = scored(settings, "alpha", {"mmlu": 0.5}, phase=None, track=None)
    with session_scope(settings.database_url) as session:
        session.execute(update(Evaluation).values(suite_hash=_smoke_hash()))
    resp = client.post(f"/api/v1/submissions/{sid}/rerun", headers=admin, json={"fresh": True})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "evaluating" and resp.json()["failure_reason"] is None
    with session_scope(settings.database_url) as session:
        evaluations = session.query(Evaluation).filter_by(submission_id=sid).all()
        kinds = sorted(e.kind for e in evaluations)
        new = next(e for e in evaluations if e.kind != "initial")
    assert kinds == ["initial", "rerun_fresh"]  # history kept
    assert queue.sent == [(EVALUATE_TASK, (new.id,))]
    busy = client.post(f"/api/v1/submissions/{sid}/rerun", headers=admin, json={})
    assert busy.status_code == 409 and "cancel it first" in busy.json()["detail"]


def test_rerun_refuses_a_changed_suite_unless_named(settings: Settings, client: TestClient) -> None:
    admin = _admin(settings)
    sid = scored(settings, "alpha", {"mmlu": 0.5}, phase=None, track=None)
    with session_scope(settings.database_url) as session:
        session.execute(update(Evaluation).values(suite_hash="f" * 64))
    resp = client.post(f"/api/v1/submissions/{sid}/rerun", headers=admin, json={})
    assert resp.status_code == 409 and "suite=smoke" in resp.json()["detail"]
    named = client.post(f"/api/v1/submissions/{sid}/rerun", headers=admin, json={"suite": "smoke"})
    assert named.status_code == 200


def test_failed_build_rerun_rebuilds(
    settings: Settings, client: TestClient, queue: RecordingQueue
) -> None:
    admin = _admin(settings)
    sid = scored(settings, "alpha", None, phase=None, track=None, status=SubmissionStatus.failed)
    with session_scope(settings.database_url) as session:
        from app.submissions.models import Submission

        session.execute(update(Submission).values(image_id=None))
    resp = client.post(f"/api/v1/submissions/{sid}/rerun", headers=admin, json={})
    assert resp.status_code == 200 and resp.json()["status"] == "queued"
    assert queue.sent == [(BUILD_TASK, (sid,))]


def test_baseline_and_disqualify_show_on_the_board(settings: Settings, client: TestClient) -> None:
    admin = _admin(settings)
    a = scored(settings, "alpha", {"mmlu": 0.5}, phase=None, track=None)
    b = scored(settings, "beta", {"mmlu": 0.9}, phase=None, track=None)
    c = scored(settings, "gamma", {"mmlu": 0.7}, phase=None, track=None)
    assert (
        client.post(
            f"/api/v1/submissions/{b}/baseline", headers=admin, json={"baseline": True}
        ).json()["is_baseline"]
        is True
    )
    dq = client.post(
        f"/api/v1/submissions/{c}/disqualify", headers=admin, json={"reason": "used the test set"}
    ).json()
    assert dq["disqualified_reason"] == "used the test set"
    rows = client.get("/api/v1/leaderboard").json()["entries"]
    assert [(r["submission_id"], r["rank"], r["is_baseline"]) for r in rows] == [
        (a, 1, False),
        (b, None, True),
    ]
    client.post(f"/api/v1/submissions/{c}/disqualify", headers=admin, json={"reason": ""})
    rows = client.get("/api/v1/leaderboard").json()["entries"]
    assert [r["submission_id"] for r in rows if r["rank"]] == [c, a]


def _smoke_hash() -> str:
    import evaluator

    return evaluator.get_suite("smoke").content_hash
