"""Which evaluation of a submission is shown, and which one counts.

A submission has a history of evaluations (re-runs and rescores add rows). Two rules, used by
every reader so that the board, the submission page, the webhook and the admin agree:

- `current`: the newest evaluation, whatever its status. It is what the submission is doing or
  did last: its progress, its logs, its error.
- `counted`: the newest *finished* (`done`) evaluation. Its scores are the submission's scores
  (a rescore, being newest, replaces the run it rescored). Only a `scored` submission is ranked,
  so a re-run in flight or a failed re-run never puts half a result on a board.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, bindparam, literal, select
from sqlalchemy.orm import QueryableAttribute, Session, defer

from app.submissions.models import RESCORE, Evaluation, EvaluationStatus


def current_of(submission_id: ColumnElement[str] | QueryableAttribute[str]) -> ScalarSelect[str]:
    """The id of `current`'s evaluation for `submission_id` (a value or a column of an
    enclosing query), as a subquery: one statement can read a submission with its current
    evaluation."""
    return (
        select(Evaluation.id)
        .where(Evaluation.submission_id == submission_id)
        .order_by(Evaluation.created_at.desc())
        .limit(1)
        .correlate_except(Evaluation)  # an enclosing query may join evaluations too
        .scalar_subquery()
    )


def current(session: Session, submission_id: str) -> Evaluation | None:
    stmt = select(Evaluation).where(Evaluation.id == current_of(literal(submission_id)))
    return session.scalars(stmt).first()


BLOBS = (Evaluation.result, Evaluation.container_log, Evaluation.startup_log)
"""The large columns: per-instance results and logs. Lists and boards never load them."""


def current_for(session: Session, submission_ids: Sequence[str]) -> dict[str, Evaluation]:
    """`current` for many submissions in one query, without the large columns (they load on
    first access, one query each): what lists and the submission's own summary show."""
    chosen: dict[str, Evaluation] = {}
    if not submission_ids:
        return chosen
    for evaluation in session.scalars(_current_for(), {"ids": list(submission_ids)}):
        chosen[evaluation.submission_id] = evaluation  # ordered, so the newest wins
    return chosen


@cache
def _current_for() -> Select[Any]:
    # Built once: constructing it took a fifth of a millisecond of every submission GET.
    return (
        select(Evaluation)
        .where(Evaluation.submission_id.in_(bindparam("ids", expanding=True)))
        .options(*(defer(c) for c in BLOBS))
        .order_by(Evaluation.created_at)
    )


def counted_for(session: Session, submission_ids: Sequence[str]) -> dict[str, Evaluation]:
    """The evaluation that counts for each of `submission_ids` (missing: none finished)."""
    chosen: dict[str, Evaluation] = {}
    if not submission_ids:
        return chosen
    stmt = (
        select(Evaluation)
        .where(
            Evaluation.submission_id.in_(submission_ids),
            Evaluation.status == EvaluationStatus.done,
        )
        .order_by(Evaluation.created_at)
    )
    for evaluation in session.scalars(stmt):
        chosen[evaluation.submission_id] = evaluation  # ordered, so the newest wins
    return chosen


def counted(session: Session, submission_id: str) -> Evaluation | None:
    return counted_for(session, [submission_id]).get(submission_id)


def rescore_source(session: Session, submission_id: str) -> Evaluation | None:
    """The newest finished run that asked the model (not a rescore), with its image: the one
    whose stored responses a rescore replays."""
    stmt = (
        select(Evaluation)
        .where(
            Evaluation.submission_id == submission_id,
            Evaluation.status == EvaluationStatus.done,
            Evaluation.kind != RESCORE,
            Evaluation.image_id.is_not(None),
        )
        .order_by(Evaluation.created_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()
