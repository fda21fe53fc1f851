from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Team
from app.kit.db import Base, IdMixin, TimestampMixin, utcnow


class SubmissionStatus(enum.StrEnum):
    queued = "queued"
    building = "building"
    evaluating = "evaluating"
    scored = "scored"
    failed = "failed"
    cancelled = "cancelled"


class FailureReason(enum.StrEnum):
    invalid_upload = "invalid_upload"
    build_failed = "build_failed"
    build_timeout = "build_timeout"
    start_timeout = "start_timeout"
    crashed = "crashed"
    oom = "oom"
    protocol_error = "protocol_error"
    eval_timeout = "eval_timeout"
    internal_error = "internal_error"


# Evaluation kinds.
INITIAL = "initial"
RERUN = "rerun"
FRESH_RERUN = "rerun_fresh"
"""A re-run that asks the model everything again instead of reusing stored responses."""
RESCORE = "rescore"


class EvaluationStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class Submission(IdMixin, TimestampMixin, Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_team_status", "team_id", "status"),)

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus), default=SubmissionStatus.queued
    )
    failure_reason: Mapped[FailureReason | None] = mapped_column(_enum(FailureReason), default=None)
    failure_message: Mapped[str | None] = mapped_column(Text, default=None)

    context_sha256: Mapped[str] = mapped_column(String(64))
    dockerfile: Mapped[str] = mapped_column(String(500), default="Dockerfile")
    weights_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    context_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """Bytes of the extracted build context on disk, for the team's storage quota (None: stored
    before sizes were recorded, counted as 0)."""
    weights_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """Bytes of the stored weights (shared by every submission with the same weights_sha256)."""
    image_id: Mapped[str | None] = mapped_column(String(200), default=None)
    build_log: Mapped[str] = mapped_column(Text, default="")
    build_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    """Last sign of life of the worker building this submission (app/evaluations/builds.py)."""
    build_attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Times a build of this submission was started; a worker that keeps dying is given up on."""
    phase_id: Mapped[str | None] = mapped_column(
        ForeignKey("phases.id", ondelete="SET NULL"), index=True, default=None
    )
    track_id: Mapped[str | None] = mapped_column(
        ForeignKey("tracks.id", ondelete="SET NULL"), default=None
    )
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified_reason: Mapped[str | None] = mapped_column(Text, default=None)

    team: Mapped[Team] = relationship(lazy="raise")
    evaluations: Mapped[list[Evaluation]] = relationship(
        back_populates="submission", lazy="raise", order_by="Evaluation.created_at"
    )


class Evaluation(IdMixin, TimestampMixin, Base):
    """One run of a suite against a submission. Re-runs add rows; history is kept."""

    __tablename__ = "evaluations"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[EvaluationStatus] = mapped_column(
        _enum(EvaluationStatus), default=EvaluationStatus.queued
    )
    suite_name: Mapped[str] = mapped_column(String(100))
    suite_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    evaluator_version: Mapped[str | None] = mapped_column(String(50), default=None)
    image_id: Mapped[str | None] = mapped_column(String(200), default=None)
    weights_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    gpu_ids: Mapped[str] = mapped_column(String(100), default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    scores: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    overall: Mapped[float | None] = mapped_column(Float, default=None)
    efficiency: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    container_log: Mapped[str] = mapped_column(Text, default="")
    startup_log: Mapped[str] = mapped_column(Text, default="")
    """The container's output up to readiness: all a team may see of a run whose phase has
    hidden scenarios (what the server printed later may quote hidden prompts)."""
    error: Mapped[str | None] = mapped_column(Text, default=None)
    kind: Mapped[str] = mapped_column(String(20), default=INITIAL)
    """`initial`, `rerun` (the model again, reusing stored responses), `rerun_fresh` (the model
    again, asking everything anew) or `rescore` (scores recomputed from stored responses with the
    current evaluator, no model call)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    submission: Mapped[Submission] = relationship(back_populates="evaluations", lazy="raise")


class CachedResponse(Base):
    """One model response, stored as it arrives, so a killed evaluation resumes from it.

    `scope` identifies the model (image + weights); `key` is the evaluator's request hash.
    """

    __tablename__ = "cached_responses"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
