"""Every table, imported in one place so Alembic and tests see the whole schema."""

from app.auth.models import ApiToken, Role, Team
from app.kit.db import Base
from app.submissions.models import (
    CachedResponse,
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)

__all__ = [
    "ApiToken",
    "Base",
    "CachedResponse",
    "Evaluation",
    "EvaluationStatus",
    "FailureReason",
    "Role",
    "Submission",
    "SubmissionStatus",
    "Team",
]
