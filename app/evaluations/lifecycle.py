"""Evaluation status transitions, checked in one place (like `app.submissions.lifecycle`).

A redelivered task or a late reaper can never move a finished evaluation back: every change goes
through `transition`, which refuses what the table does not allow. `running -> queued` is the
reaper's requeue of an evaluation whose worker died.
"""

from __future__ import annotations

from datetime import datetime

from app.kit.db import utcnow
from app.kit.errors import Conflict
from app.submissions.models import Evaluation, EvaluationStatus

E = EvaluationStatus

ALLOWED: dict[EvaluationStatus, frozenset[EvaluationStatus]] = {
    E.queued: frozenset({E.running, E.failed, E.cancelled}),
    E.running: frozenset({E.done, E.failed, E.cancelled, E.queued}),
    E.done: frozenset(),
    E.failed: frozenset(),
    E.cancelled: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in ALLOWED.items() if not nxt)
ACTIVE = frozenset(ALLOWED) - TERMINAL


class IllegalEvaluationTransition(Conflict):
    pass


def can_transition(current: EvaluationStatus, target: EvaluationStatus) -> bool:
    return target in ALLOWED[current]


def transition(
    evaluation: Evaluation, target: EvaluationStatus, *, now: datetime | None = None
) -> None:
    """Move `evaluation` to `target`; a terminal status also stamps `finished_at`."""
    current = evaluation.status
    if not can_transition(current, target):
        raise IllegalEvaluationTransition(
            f"evaluation {evaluation.id} cannot go from {current.value} to {target.value}"
        )
    evaluation.status = target
    if target in TERMINAL:
        evaluation.finished_at = now or utcnow()
