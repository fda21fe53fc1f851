"""What a team's submissions keep on disk, as recorded on their rows (for the storage quota)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.submissions.models import Submission


class StoredBytesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def context_bytes(self, team_id: str) -> int:
        stmt = select(func.coalesce(func.sum(Submission.context_bytes), 0)).where(
            Submission.team_id == team_id
        )
        return int(self.session.execute(stmt).scalar_one() or 0)

    def weights_bytes(self, team_id: str) -> dict[str, int]:
        """sha256 -> bytes of each distinct weights the team's submissions use (stored once)."""
        stmt = (
            select(Submission.weights_sha256, func.max(Submission.weights_bytes))
            .where(Submission.team_id == team_id, Submission.weights_sha256.is_not(None))
            .group_by(Submission.weights_sha256)
        )
        rows = self.session.execute(stmt).all()
        return {sha: int(size or 0) for sha, size in rows if sha is not None}
