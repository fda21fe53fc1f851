"""The polled submission GET (`views.poll`: columns in one statement) answers exactly what the
ORM path (`views.read_model`, used by the list and the POST) answers, for every caller and the
states that change what a caller may see: a newer evaluation under way beside a finished one,
a hidden scenario, a failure that quotes the server, no place at all. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from app.auth.models import ApiToken, Role
from app.auth.service import Principal, authenticate, create_team, create_token, hash_token
from app.config import Settings
from app.kit.db import get_engine, get_read_engine, read_only, session_scope, utcnow
from app.kit.deps import admitted
from app.kit.errors import NotFound
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions import views
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from app.submissions.schemas import FIRST_ERROR, SubmissionRead
from tests.app.factories import competition, scored

SUITE = "neurips2023-open"
HIDDEN = "bbq"
QUOTED = "the server answered 'The following are questions about social bias 7731'"


def _world(settings: Settings) -> tuple[dict[str, str], list[str]]:
    competition(
        settings,
        [
            {"slug": "open", "suite": SUITE, "hidden_scenarios": [HIDDEN]},
            {"slug": "plain", "suite": SUITE},
        ],
    )
    with session_scope(settings.database_url) as session:
        _, alpha = create_team(session, "alpha")
        _, beta = create_team(session, "beta")
        organizer = create_token(session, Role.organizer)
        admin = create_token(session, Role.admin)
    earlier = utcnow() - timedelta(minutes=5)
    rerun = scored(settings, "alpha", {"mmlu": 0.5, HIDDEN: 0.9}, created_at=earlier)
    failed = scored(
        settings, "alpha", None, status=SubmissionStatus.failed, baseline=True, phase="plain"
    )
    nowhere = scored(settings, "alpha", None, phase=None, track=None, disqualified="copied")
    with session_scope(settings.database_url) as session:
        # A re-run of `rerun` under way: the newest evaluation is the current one.
        session.add(
            Evaluation(
                submission_id=rerun,
                suite_name="smoke",
                status=EvaluationStatus.running,
                progress_done=3,
                progress_total=10,
                started_at=utcnow(),
                result={"instances": ["never on the poll's path"]},
                container_log="never on the poll's path",
            )
        )
        row = session.get(Submission, failed)
        assert row is not None
        row.failure_reason = FailureReason.protocol_error
        row.failure_message = f"12 requests failed{FIRST_ERROR}{QUOTED}"
    tokens = {"alpha": alpha, "beta": beta, "organizer": organizer, "admin": admin}
    return tokens, [rerun, failed, nowhere]


def _poll(url: str, token: str, submission_id: str) -> SubmissionRead:
    return read_only(url, lambda c: views.poll(c, token, submission_id, admit=admitted))


def _principal(settings: Settings, token: str) -> Principal:
    with session_scope(settings.database_url) as session:
        principal = authenticate(session, token)
    assert principal is not None
    return principal


def test_poll_answers_what_the_orm_path_answers(settings: Settings) -> None:
    tokens, submissions = _world(settings)
    url = settings.database_url
    for who in ("alpha", "organizer", "admin"):
        principal = _principal(settings, tokens[who])
        for sid in submissions:
            polled = _poll(url, tokens[who], sid)
            with session_scope(url) as session:
                row = session.get(Submission, sid)
                assert row is not None
                expected = views.read_model(session, principal, row)
            assert polled == expected, (who, sid)

    # And what those answers are, so the comparison above is not of two equal mistakes.
    rerun, failed, nowhere = (_poll(url, tokens["alpha"], sid) for sid in submissions)
    assert rerun.evaluation is not None and rerun.evaluation.status == "running"
    assert rerun.progress.done == 3 and rerun.progress.total == 10
    assert rerun.scores == {} and rerun.hidden_scenario_count == 1
    assert rerun.hidden_scenarios == []
    assert failed.failure_message is not None and QUOTED in failed.failure_message  # no hidden
    assert failed.is_baseline and failed.phase == "plain"
    assert (nowhere.competition, nowhere.track, nowhere.phase) == (None, None, None)
    assert nowhere.disqualified_reason == "copied" and nowhere.evaluation is None
    assert _poll(url, tokens["organizer"], submissions[0]).hidden_scenarios == [HIDDEN]


def test_poll_hides_what_a_team_may_not_read(settings: Settings) -> None:
    competition(settings, [{"slug": "open", "suite": SUITE, "hidden_scenarios": [HIDDEN]}])
    with session_scope(settings.database_url) as session:
        _, alpha = create_team(session, "alpha")
        _, beta = create_team(session, "beta")
    sid = scored(settings, "alpha", {"mmlu": 0.5, HIDDEN: 0.9})
    with session_scope(settings.database_url) as session:
        row = session.get(Submission, sid)
        assert row is not None
        row.status = SubmissionStatus.failed
        row.failure_reason = FailureReason.protocol_error
        row.failure_message = f"12 requests failed{FIRST_ERROR}{QUOTED}"
    answer = _poll(settings.database_url, alpha, sid)
    assert answer.scores == {"mmlu": 0.5} and answer.overall == 0.5
    assert answer.failure_message is not None and QUOTED not in answer.failure_message
    for asked in (sid, "no-such-submission"):
        with pytest.raises(NotFound, match=f"no submission {asked} visible to you"):
            _poll(settings.database_url, beta, asked)


def test_the_token_is_judged_before_the_submission(settings: Settings) -> None:
    """Token and submission come back in one row, but an unknown, revoked or worker token is
    refused before anything of the submission is looked at, even one that does not exist."""
    competition(settings, [{"slug": "open", "suite": SUITE}])
    with session_scope(settings.database_url) as session:
        team, alpha = create_team(session, "alpha")
        revoked = create_token(session, Role.team, team_id=team.id)
        worker = create_token(session, Role.worker)
    with session_scope(settings.database_url) as session:
        row = session.query(ApiToken).filter_by(token_hash=hash_token(revoked)).one()
        row.revoked_at = utcnow()
    sid = scored(settings, "alpha", {"mmlu": 0.5})
    url = settings.database_url
    for asked in (sid, "no-such-submission"):
        for token in ("pdm_never_issued", revoked):
            with pytest.raises(HTTPException) as refused:
                _poll(url, token, asked)
            assert refused.value.status_code == 401
        with pytest.raises(HTTPException) as refused:
            _poll(url, worker, asked)
        assert refused.value.status_code == 403
    assert _poll(url, alpha, sid).id == sid


def test_the_get_reads_one_statement_and_no_large_column(settings: Settings) -> None:
    tokens, submissions = _world(settings)
    client = TestClient(create_app(settings, RecordingQueue()))
    seen: list[str] = []
    written: list[str] = []

    def record(into: list[str]) -> object:
        def hook(_c: Connection, _cur: object, statement: str, *_: object) -> None:
            into.append(statement)

        return hook

    reads, main = get_read_engine(settings.database_url), get_engine(settings.database_url)
    on_read, on_main = record(seen), record(written)
    event.listen(reads, "before_cursor_execute", on_read)
    event.listen(main, "before_cursor_execute", on_main)
    try:
        answer = client.get(
            f"/api/v1/submissions/{submissions[0]}",
            headers={"Authorization": f"Bearer {tokens['alpha']}"},
        )
    finally:
        event.remove(reads, "before_cursor_execute", on_read)
        event.remove(main, "before_cursor_execute", on_main)
    assert answer.status_code == 200, answer.text
    assert answer.json()["evaluation"]["status"] == "running"
    assert len(seen) == 1, seen  # the token and the submission with all it shows
    assert written == []
    for column in ("result", "container_log", "startup_log", "build_log"):
        assert f".{column}" not in " ".join(seen), column
