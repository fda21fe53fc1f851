"""Submission status transitions, checked in one place.

A redelivered or late task can never move a submission backwards (e.g. `scored` -> `evaluating`):
every change goes through `transition`, which refuses what the table does not allow.
"""

from __future__ import annotations

from app.kit.errors import Conflict
from app.submissions.models import FailureReason, Submission, SubmissionStatus

S = SubmissionStatus

ALLOWED: dict[SubmissionStatus, frozenset[SubmissionStatus]] = {
    S.queued: frozenset({S.building, S.failed, S.cancelled}),
    # `building -> queued`: the reaper's requeue of a build whose worker died.
    S.building: frozenset({S.evaluating, S.failed, S.cancelled, S.queued}),
    S.evaluating: frozenset({S.scored, S.failed, S.cancelled}),
    S.scored: frozenset(),
    S.failed: frozenset(),
    S.cancelled: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in ALLOWED.items() if not nxt)


# Only an admin action may move a finished submission back into the pipeline (a re-run). Tasks
# never call `reopen`, so a redelivered task still cannot move `scored` back to `evaluating`.
REOPENABLE = frozenset({S.scored, S.failed, S.cancelled})


class IllegalTransition(Conflict):
    pass


def reopen(submission: Submission, target: SubmissionStatus) -> None:
    """Admin re-run: a finished submission goes back to `queued` (rebuild) or `evaluating`."""
    if submission.status not in REOPENABLE or target not in (S.queued, S.evaluating):
        raise IllegalTransition(
            f"submission {submission.id} is {submission.status.value}; only a finished "
            "submission can be re-run (cancel it first)"
        )
    submission.status = target
    submission.failure_reason = None
    submission.failure_message = None


def can_transition(current: SubmissionStatus, target: SubmissionStatus) -> bool:
    return target in ALLOWED[current]


def transition(
    submission: Submission,
    target: SubmissionStatus,
    *,
    reason: FailureReason | None = None,
    message: str | None = None,
) -> None:
    current = submission.status
    if not can_transition(current, target):
        raise IllegalTransition(
            f"submission {submission.id} cannot go from {current.value} to {target.value}"
        )
    if (target is S.failed) != (reason is not None):
        raise ValueError("a failed submission needs a reason code, and only a failed one")
    submission.status = target
    if reason is not None:
        submission.failure_reason = reason
        submission.failure_message = message or reason.value
