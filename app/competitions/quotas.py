"""Submission quotas per team and phase, counted atomically.

Counting takes a per-(team, phase) row lock first (an UPDATE, which PostgreSQL locks per row and
SQLite serialises database-wide), so two uploads of one team finishing at the same moment are
counted one after the other and cannot both pass the last free slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.competitions.models import Phase, TeamQuotaLock
from app.kit.errors import PodiumError
from app.submissions.models import FailureReason, Submission, SubmissionStatus

S = SubmissionStatus
IN_FLIGHT = (S.queued, S.building, S.evaluating)


class QuotaExceeded(PodiumError):
    status_code = 429


def _midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _until(now: datetime, when: datetime) -> str:
    minutes = max(int((when - now).total_seconds() // 60), 0)
    return f"{when.strftime('%Y-%m-%d %H:%M UTC')} (in {minutes // 60}h {minutes % 60:02d}m)"


def lock_team_phase(session: Session, team_id: str, phase_id: str) -> None:
    try:
        with session.begin_nested():
            session.add(TeamQuotaLock(team_id=team_id, phase_id=phase_id, counter=0))
    except IntegrityError:
        pass  # the row exists already
    session.execute(
        update(TeamQuotaLock)
        .where(TeamQuotaLock.team_id == team_id, TeamQuotaLock.phase_id == phase_id)
        .values(counter=TeamQuotaLock.counter + 1)
    )


def _count(session: Session, team_id: str, phase_id: str, *conditions: object) -> int:
    stmt = (
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.team_id == team_id,
            Submission.phase_id == phase_id,
            *conditions,  # type: ignore[arg-type]
        )
    )
    return int(session.scalar(stmt) or 0)


def check_quotas(session: Session, team_id: str, phase: Phase, now: datetime) -> None:
    """Raise QuotaExceeded (429) with when it resets if one more submission would pass a
    quota. Cancelled submissions never count; failed ones count toward `failed_per_day` only
    (failures that were Podium's own fault, `internal_error`, count nowhere)."""
    midnight = _midnight(now)
    tomorrow = midnight + timedelta(days=1)
    counted = Submission.status.not_in([S.cancelled, S.failed])
    where = f"phase {phase.slug!r}"
    if phase.quota_concurrent is not None:
        in_flight = _count(session, team_id, phase.id, Submission.status.in_(IN_FLIGHT))
        if in_flight >= phase.quota_concurrent:
            raise QuotaExceeded(
                f"{in_flight} of your submissions are still queued or running in {where} "
                f"(limit {phase.quota_concurrent} at once); wait for one to finish"
            )
    if phase.quota_per_day is not None:
        today = _count(session, team_id, phase.id, counted, Submission.created_at >= midnight)
        if today >= phase.quota_per_day:
            raise QuotaExceeded(
                f"daily limit of {phase.quota_per_day} submissions reached in {where}; "
                f"it resets at {_until(now, tomorrow)}"
            )
    if phase.quota_total is not None:
        total = _count(session, team_id, phase.id, counted)
        if total >= phase.quota_total:
            raise QuotaExceeded(
                f"limit of {phase.quota_total} submissions in {where} reached; it does not reset"
            )
    if phase.quota_failed_per_day is not None:
        failed = _count(
            session,
            team_id,
            phase.id,
            Submission.status == S.failed,
            Submission.failure_reason != FailureReason.internal_error,
            Submission.created_at >= midnight,
        )
        if failed >= phase.quota_failed_per_day:
            raise QuotaExceeded(
                f"{failed} of today's submissions in {where} failed (limit "
                f"{phase.quota_failed_per_day} failed per day); fix the failure first, see the "
                f"logs of your last submission. It resets at {_until(now, tomorrow)}"
            )
