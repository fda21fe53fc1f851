"""Which evaluation is shown and which one counts, on real databases."""

from __future__ import annotations

from datetime import timedelta

from app.config import Settings
from app.evaluations import counting
from app.kit.db import session_scope, utcnow
from app.submissions.models import RERUN, RESCORE, Evaluation, EvaluationStatus
from tests.app.factories import scored

E = EvaluationStatus


def _add(
    settings: Settings,
    sid: str,
    status: EvaluationStatus,
    age_s: float,
    *,
    kind: str = RERUN,
    overall: float | None = None,
    image_id: str | None = "sha256:x",
) -> str:
    with session_scope(settings.database_url) as session:
        ev = Evaluation(
            submission_id=sid,
            suite_name="smoke",
            status=status,
            kind=kind,
            overall=overall,
            image_id=image_id,
            created_at=utcnow() - timedelta(seconds=age_s),
        )
        session.add(ev)
        session.flush()
        return ev.id


def test_counted_is_the_newest_finished_run(settings: Settings) -> None:
    sid = scored(settings, "alpha", None, phase=None, track=None)
    old_done = _add(settings, sid, E.done, 50, overall=0.1)
    new_done = _add(settings, sid, E.done, 40, overall=0.2)
    failed = _add(settings, sid, E.failed, 30)
    running = _add(settings, sid, E.running, 20)
    with session_scope(settings.database_url) as session:
        counted = counting.counted(session, sid)
        current = counting.current(session, sid)
        assert counted is not None and counted.id == new_done != old_done
        assert current is not None and current.id == running != failed
        assert counting.counted_for(session, [sid, "nope"]).keys() == {sid}
        assert counting.counted_for(session, []) == {}


def test_a_rescore_counts_but_is_never_rescored(settings: Settings) -> None:
    sid = scored(settings, "alpha", None, phase=None, track=None)
    run = _add(settings, sid, E.done, 50, overall=0.1)
    _add(settings, sid, E.done, 45, overall=0.3, image_id=None)  # no image: cannot replay
    rescore = _add(settings, sid, E.done, 40, kind=RESCORE, overall=0.2)
    with session_scope(settings.database_url) as session:
        counted = counting.counted(session, sid)
        assert counted is not None and counted.id == rescore
        source = counting.rescore_source(session, sid)
        assert source is not None and source.id == run


def test_nothing_finished_counts_nothing(settings: Settings) -> None:
    sid = scored(settings, "alpha", None, phase=None, track=None)
    _add(settings, sid, E.failed, 10)
    with session_scope(settings.database_url) as session:
        assert counting.counted(session, sid) is None
        assert counting.rescore_source(session, sid) is None
        assert counting.current(session, sid) is not None
