"""Every table, imported in one place so Alembic and tests see the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import ApiToken, Role, Team, TeamMember
from app.competitions.models import (
    Competition,
    EntryRule,
    LeaderboardMode,
    Phase,
    TeamQuotaLock,
    Track,
)
from app.kit.db import Base
from app.leaderboard.rows import BoardRow, BoardView
from app.submissions.models import (
    CachedResponse,
    Evaluation,
    EvaluationStatus,
    FailureReason,
    Submission,
    SubmissionStatus,
)

__all__ = [
    "AuditEntry",
    "Competition",
    "EntryRule",
    "LeaderboardMode",
    "Phase",
    "TeamQuotaLock",
    "Track",
    "ApiToken",
    "Base",
    "BoardRow",
    "BoardView",
    "CachedResponse",
    "Evaluation",
    "EvaluationStatus",
    "FailureReason",
    "Role",
    "Submission",
    "SubmissionStatus",
    "Team",
    "TeamMember",
]
