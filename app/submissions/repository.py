from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import defer

from app.kit.repository import Repository
from app.submissions.models import Evaluation, Submission, SubmissionStatus


class SubmissionRepository(Repository[Submission]):
    model = Submission

    # The lists: the build log (up to megabytes) loads only where it is read, one at a time.
    def for_team(self, team_id: str) -> Sequence[Submission]:
        stmt = (
            select(Submission)
            .where(Submission.team_id == team_id)
            .options(defer(Submission.build_log))
            .order_by(Submission.created_at.desc())
        )
        return self.all(stmt)

    def all_newest_first(self, limit: int = 100, offset: int = 0) -> Sequence[Submission]:
        stmt = (
            select(Submission)
            .options(defer(Submission.build_log))
            .order_by(Submission.created_at.desc())
            .limit(limit)
            .offset(offset)
        )
        return self.all(stmt)

    def summary(self, id: str) -> Submission | None:
        """The submission without its build log (which loads if it is read)."""
        stmt = select(Submission).where(Submission.id == id).options(defer(Submission.build_log))
        return self.one_or_none(stmt)

    def scored(self) -> Sequence[Submission]:
        return self.all(select(Submission).where(Submission.status == SubmissionStatus.scored))


class EvaluationRepository(Repository[Evaluation]):
    model = Evaluation

    def for_submission(self, submission_id: str) -> Sequence[Evaluation]:
        stmt = (
            select(Evaluation)
            .where(Evaluation.submission_id == submission_id)
            .order_by(Evaluation.created_at)
        )
        return self.all(stmt)
