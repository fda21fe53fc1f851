"""How a submission is shown to a caller: hidden scenarios only for organizers.

That covers the container's output too. A server may print the prompts it is sent, and in a phase
with hidden scenarios those include the hidden ones, so a team sees its container's output only
up to readiness (`Evaluation.startup_log`, recorded by the worker before the first prompt), while
organizers see all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, select, true
from sqlalchemy.orm import Session

from app.auth.models import Team
from app.auth.service import PRINCIPAL_COLUMNS, Principal, by_token_hash, hash_token, principal_of
from app.competitions.models import Competition, Phase, Track
from app.evaluations import counting
from app.submissions import service
from app.submissions.models import (
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from app.submissions.schemas import (
    EvaluationFields,
    SubmissionFields,
    SubmissionLogs,
    SubmissionRead,
)

WITHHELD_NOTE = (
    "[podium] The container's output after start-up is withheld: this phase has hidden "
    "scenarios, and what a server prints while it answers could quote their prompts. Above is "
    "its output up to the moment it was ready; the organizers can see the whole log."
)


def hidden_scenarios(session: Session, submission: Submission) -> frozenset[str]:
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    return frozenset(phase.hidden_scenarios) if phase else frozenset()


@dataclass(frozen=True)
class _Context:
    team: str
    hidden: frozenset[str]
    where: tuple[str | None, str | None, str | None]
    """Competition, track and phase slugs."""


_CONTEXT_COLUMNS = (Team.name, Phase.hidden_scenarios, Phase.slug, Competition.slug, Track.slug)


def _with_context(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (over Submission) with the team's name, the phase's hidden scenarios and the
    phase, competition and track slugs added, in that order (`_context`'s arguments)."""
    return (
        stmt.add_columns(*_CONTEXT_COLUMNS)
        .join(Team, Team.id == Submission.team_id, isouter=True)
        .join(Phase, Phase.id == Submission.phase_id, isouter=True)
        .join(Competition, Competition.id == Phase.competition_id, isouter=True)
        .join(Track, Track.id == Submission.track_id, isouter=True)
    )


def _context(
    team: str | None,
    hidden: Sequence[str] | None,
    phase: str | None,
    competition: str | None,
    track: str | None,
) -> _Context:
    return _Context(team or "?", frozenset(hidden or ()), (competition, track, phase))


def _contexts(session: Session, submissions: Sequence[Submission]) -> dict[str, _Context]:
    """Each submission's team name, hidden scenarios and place, in one query."""
    if not submissions:
        return {}
    stmt = _with_context(select(Submission.id)).where(
        Submission.id.in_([s.id for s in submissions])
    )
    return {sid: _context(*rest) for sid, *rest in session.execute(stmt)}


class _PolledSubmission(NamedTuple):
    id: str
    team_id: str
    name: str
    description: str
    status: SubmissionStatus
    failure_reason: FailureReason | None
    failure_message: str | None
    is_baseline: bool
    disqualified_reason: str | None
    created_at: datetime
    updated_at: datetime


class _PolledEvaluation(NamedTuple):
    id: str
    status: EvaluationStatus
    suite_name: str
    suite_hash: str | None
    evaluator_version: str | None
    image_id: str | None
    weights_sha256: str | None
    efficiency: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    scores: dict[str, float] | None
    overall: float | None
    progress_done: int
    progress_total: int


_SUBMISSION = len(_PolledSubmission._fields)
_CONTEXT = _SUBMISSION + len(_CONTEXT_COLUMNS)


@cache
def _poll_as() -> Select[Any]:
    # Built once. Columns, not entities: loading ORM objects took three quarters of the
    # GET's CPU time (bench/README.md, "Leaderboard reads at scale"). The caller's token and
    # the submission in one statement (one round trip): no row when the token is unknown or
    # revoked, the token's columns and NULLs when the submission is missing.
    submission = select(*(getattr(Submission, f) for f in _PolledSubmission._fields))
    asked = (
        _with_context(submission)
        .add_columns(*(getattr(Evaluation, f) for f in _PolledEvaluation._fields))
        .join(Evaluation, Evaluation.id == counting.current_of(Submission.id), isouter=True)
        .where(Submission.id == bindparam("submission_id"))
        .subquery("asked")
    )
    caller = by_token_hash().subquery("caller")
    return select(caller, asked).select_from(caller.outerjoin(asked, true()))


def poll(
    connection: Connection,
    token: str,
    submission_id: str,
    admit: Callable[[Principal | None], Principal],
) -> SubmissionRead:
    """What teams poll while they wait (`GET /api/v1/submissions/{id}`): the caller's token,
    then the submission, its team and place and its current evaluation without the large
    columns, all in one statement; the same summary as `read_model`'s.

    `admit` turns the token's principal (None: unknown or revoked) into the caller or raises
    (401, 403), before anything of the submission is looked at; then the submission is the
    caller's to see or a 404, as for one that does not exist."""
    params = {"token_hash": hash_token(token), "submission_id": submission_id}
    row = connection.execute(_poll_as(), params).first()
    principal = admit(principal_of(row[:PRINCIPAL_COLUMNS] if row else None))
    assert row is not None  # `admit` let a principal through
    asked = row[PRINCIPAL_COLUMNS:]
    found = _PolledSubmission._make(asked[:_SUBMISSION]) if asked[0] is not None else None
    submission = service.visible(principal, found, submission_id)
    evaluation = _PolledEvaluation._make(asked[_CONTEXT:]) if asked[_CONTEXT] is not None else None
    return _summary(submission, _context(*asked[_SUBMISSION:_CONTEXT]), evaluation, principal)


def read_model(session: Session, principal: Principal, submission: Submission) -> SubmissionRead:
    return read_models(session, principal, [submission])[0]


def read_models(
    session: Session, principal: Principal, submissions: Sequence[Submission]
) -> list[SubmissionRead]:
    """The summaries of `submissions`, in their order: two queries however many there are,
    and never the per-instance results, logs (`counting.BLOBS`) or build logs."""
    evaluations = counting.current_for(session, [s.id for s in submissions])
    contexts = _contexts(session, submissions)
    unknown = _Context("?", frozenset(), (None, None, None))
    return [
        _summary(s, contexts.get(s.id, unknown), evaluations.get(s.id), principal)
        for s in submissions
    ]


def _summary(
    submission: SubmissionFields,
    context: _Context,
    evaluation: EvaluationFields | None,
    principal: Principal,
) -> SubmissionRead:
    return SubmissionRead.build(
        submission,
        context.team,
        evaluation,
        hidden=context.hidden,
        show_hidden=principal.can_read_everything,
        where=context.where,
    )


def container_log(
    session: Session, principal: Principal, submission: Submission, evaluation: Evaluation | None
) -> tuple[str, bool]:
    """The container output this caller may read, and whether some of it is withheld."""
    if evaluation is None:
        return "", False
    if principal.can_read_everything or not hidden_scenarios(session, submission):
        return evaluation.container_log, False
    startup = evaluation.startup_log.rstrip("\n")
    return (f"{startup}\n\n{WITHHELD_NOTE}\n" if startup else f"{WITHHELD_NOTE}\n"), True


def logs(session: Session, principal: Principal, submission: Submission) -> SubmissionLogs:
    evaluation = counting.current(session, submission.id)
    text, withheld = container_log(session, principal, submission, evaluation)
    return SubmissionLogs(
        build_log=submission.build_log, container_log=text, container_log_withheld=withheld
    )
