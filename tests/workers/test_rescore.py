"""Rescoring recomputes scores from the stored responses, with no call to the model."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from app.auth.service import Principal
from app.config import Settings
from app.kit.db import session_scope
from app.kit.errors import Conflict
from app.submissions import admin
from app.submissions.models import CachedResponse, Evaluation
from tests.workers.test_flows import Harness, harness  # noqa: F401  (fixture)

ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)


def test_rescore_uses_stored_responses_only(harness: Harness) -> None:  # noqa: F811
    sid = harness.submission()
    harness.build(sid)
    from workers import flows

    flows.evaluate(harness.ctx, harness.evaluation_id())
    asked = harness.servers[0].stats.process_requests
    with session_scope(harness.settings.database_url) as session:
        evaluation = admin.rescore(session, harness.settings, ADMIN, sid)
        rescored = (evaluation.kind, evaluation.scores, evaluation.overall)
        original = session.query(Evaluation).filter_by(submission_id=sid, kind="initial").one()
        assert rescored == ("rescore", original.scores, original.overall)
    assert harness.servers[0].stats.process_requests == asked  # the model was not asked
    assert len(harness.servers) == 1  # and no container was started for it


def test_rescore_refuses_when_responses_are_missing(harness: Harness) -> None:  # noqa: F811
    sid = harness.submission()
    harness.build(sid)
    from workers import flows

    flows.evaluate(harness.ctx, harness.evaluation_id())
    with session_scope(harness.settings.database_url) as session:
        victim = next(r for r in session.query(CachedResponse) if "latency_s" in r.value)
        session.delete(victim)
    with (
        session_scope(harness.settings.database_url) as session,
        pytest.raises(Conflict, match="re-run"),
    ):
        admin.rescore(session, harness.settings, ADMIN, sid)


def test_rescore_without_an_evaluation(settings: Settings) -> None:
    from tests.app.factories import scored

    sid = scored(settings, "alpha", None, phase=None, track=None)
    with session_scope(settings.database_url) as session, pytest.raises(Conflict):
        admin.rescore(session, settings, ADMIN, sid)
