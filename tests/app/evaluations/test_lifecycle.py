"""The Evaluation's status table: what may follow what, and what is refused."""

from __future__ import annotations

import pytest

from app.evaluations.lifecycle import (
    ACTIVE,
    ALLOWED,
    TERMINAL,
    IllegalEvaluationTransition,
    can_transition,
    transition,
)
from app.submissions.models import Evaluation, EvaluationStatus

E = EvaluationStatus


def _evaluation(status: EvaluationStatus) -> Evaluation:
    return Evaluation(id="e1", submission_id="s1", suite_name="smoke", status=status)


def test_every_status_is_in_the_table() -> None:
    assert set(ALLOWED) == set(EvaluationStatus)
    assert TERMINAL == {E.done, E.failed, E.cancelled}
    assert ACTIVE == {E.queued, E.running}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (E.queued, E.running),
        (E.queued, E.failed),
        (E.queued, E.cancelled),
        (E.running, E.done),
        (E.running, E.failed),
        (E.running, E.cancelled),
        (E.running, E.queued),  # the reaper's requeue of a dead worker's run
    ],
)
def test_allowed(current: EvaluationStatus, target: EvaluationStatus) -> None:
    evaluation = _evaluation(current)
    transition(evaluation, target)
    assert evaluation.status is target
    assert (evaluation.finished_at is not None) == (target in TERMINAL)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (E.done, E.running),  # a redelivered task after the run finished
        (E.done, E.queued),
        (E.failed, E.running),
        (E.cancelled, E.running),
        (E.cancelled, E.done),  # a run finishing after an admin cancelled it
        (E.queued, E.done),  # scores without a claim
        (E.queued, E.queued),
    ],
)
def test_refused(current: EvaluationStatus, target: EvaluationStatus) -> None:
    evaluation = _evaluation(current)
    assert not can_transition(current, target)
    with pytest.raises(IllegalEvaluationTransition):
        transition(evaluation, target)
    assert evaluation.status is current
