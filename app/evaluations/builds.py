"""A submission's build, as the evaluation package sees it: claimed by one worker at a time,
heart-beating while it runs, re-queued when its worker dies, given up after `max_attempts`.

The submission's own status table (`app.submissions.lifecycle`) allows `building -> queued` for
exactly that requeue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from app.evaluations.service import new_evaluation
from app.kit.db import utcnow
from app.queue import BUILD_TASK, TaskQueue, enqueue_after_commit
from app.submissions.lifecycle import transition
from app.submissions.models import INITIAL, Evaluation, Submission, SubmissionStatus

log = logging.getLogger(__name__)

S = SubmissionStatus


def build_alive(submission: Submission, stale_after_s: float, now: datetime | None = None) -> bool:
    beat = submission.build_heartbeat_at
    return beat is not None and ((now or utcnow()) - beat).total_seconds() < stale_after_s


def claim_build(session: Session, submission_id: str, stale_after_s: float) -> Submission | None:
    """Take the submission's build for this worker: `queued` becomes `building` (a `building`
    one whose worker died is taken over), with one more attempt and a fresh heartbeat. None
    when there is nothing to build or a live worker is building it already.

    Database errors propagate: the task must be retried, never acked as if it had run.
    """
    submission = session.get(Submission, submission_id, with_for_update=True)
    if submission is None:
        log.warning("build: submission %s does not exist; nothing to do", submission_id)
        return None
    if submission.status not in (S.queued, S.building):
        log.info("build: submission %s is already %s", submission_id, submission.status.value)
        return None
    if submission.status is S.building and build_alive(submission, stale_after_s):
        log.info("build: submission %s is being built elsewhere", submission_id)
        return None
    if submission.status is S.queued:
        transition(submission, S.building)
    submission.build_attempts += 1
    submission.build_heartbeat_at = utcnow()
    return submission


def build_heartbeat(session: Session, submission_id: str) -> bool:
    """The building worker's sign of life. False when the build is no longer wanted."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.status is not S.building:
        return False
    submission.build_heartbeat_at = utcnow()
    return True


def built(
    session: Session,
    submission: Submission,
    image_id: str,
    suite_name: str,
    queue: TaskQueue,
) -> Evaluation:
    """The image is built: the submission goes on to `evaluating` with a first evaluation."""
    submission.image_id = image_id
    submission.build_heartbeat_at = None
    transition(submission, S.evaluating)
    return new_evaluation(session, submission, suite_name, queue, INITIAL)


def requeue_build(
    session: Session, submission: Submission, queue: TaskQueue, now: datetime | None = None
) -> None:
    """A build whose worker died goes back to `queued`, and its task is sent again."""
    transition(submission, S.queued)
    submission.build_heartbeat_at = None
    submission.updated_at = now or utcnow()
    enqueue_after_commit(session, queue, BUILD_TASK, submission.id)


def resend_build(
    session: Session, submission: Submission, queue: TaskQueue, now: datetime | None = None
) -> None:
    """Send a queued submission's build task again (the first one was lost)."""
    submission.updated_at = now or utcnow()
    enqueue_after_commit(session, queue, BUILD_TASK, submission.id)
