from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from app.submissions.models import EvaluationStatus, FailureReason, SubmissionStatus


class SubmissionFields(Protocol):
    """What a submission's summary reads of it: a `Submission` row, or the columns the polled
    GET selects (`app.submissions.views.poll`)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def status(self) -> SubmissionStatus: ...
    @property
    def failure_reason(self) -> FailureReason | None: ...
    @property
    def failure_message(self) -> str | None: ...
    @property
    def is_baseline(self) -> bool: ...
    @property
    def disqualified_reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class EvaluationFields(Protocol):
    """What a submission's summary reads of its current evaluation (never the large columns)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> EvaluationStatus: ...
    @property
    def suite_name(self) -> str: ...
    @property
    def suite_hash(self) -> str | None: ...
    @property
    def evaluator_version(self) -> str | None: ...
    @property
    def image_id(self) -> str | None: ...
    @property
    def weights_sha256(self) -> str | None: ...
    @property
    def efficiency(self) -> dict[str, Any] | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def scores(self) -> dict[str, float] | None: ...
    @property
    def overall(self) -> float | None: ...
    @property
    def progress_done(self) -> int: ...
    @property
    def progress_total(self) -> int: ...


class Progress(BaseModel):
    done: int = Field(description="Requests answered so far in the current evaluation")
    total: int = Field(description="Requests the current evaluation will send")


class EvaluationRead(BaseModel):
    id: str
    status: str
    suite: str
    suite_hash: str | None
    evaluator_version: str | None
    image_id: str | None
    weights_sha256: str | None
    efficiency: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


ANSWER_FAILURES = frozenset({FailureReason.protocol_error, FailureReason.eval_timeout})
"""Failures while the model answered prompts: their message may quote the server's answers."""
FIRST_ERROR = "; first error: "
ANSWER_DETAILS_WITHHELD = (
    "the details of the first failed request are withheld: this phase has hidden scenarios, "
    "and the server's answer (quoted there) could repeat a hidden prompt. Reproduce it with "
    "`podium eval` against the open scenarios, or ask the organizers, who can read it"
)


def team_failure_message(reason: FailureReason | None, message: str | None) -> str | None:
    """What a team may read of a failure in a phase with hidden scenarios: no text the server
    sent while answering prompts, since a server can echo the prompt into an error answer."""
    if message is None or reason not in ANSWER_FAILURES:
        return message
    head, found, _ = message.partition(FIRST_ERROR)
    if found:
        return f"{head}; {ANSWER_DETAILS_WITHHELD}"
    return f"the server's answers broke the protocol or ran out of time; {ANSWER_DETAILS_WITHHELD}"


class SubmissionRead(BaseModel):
    id: str
    team: str
    name: str
    description: str
    competition: str | None = None
    track: str | None = None
    phase: str | None = None
    is_baseline: bool = False
    disqualified_reason: str | None = None
    hidden_scenarios: list[str] = Field(
        default_factory=list,
        description="Scenarios scored but not shown to teams (organizers see them in `scores`); "
        "their names are for organizers only, empty for a team",
    )
    hidden_scenario_count: int = Field(0, description="How many scenarios of the phase are hidden")
    status: SubmissionStatus
    failure_reason: FailureReason | None
    failure_message: str | None
    progress: Progress
    scores: dict[str, float] = Field(description="Scenario name -> score (0..1)")
    overall: float | None
    evaluation: EvaluationRead | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(
        cls,
        submission: SubmissionFields,
        team_name: str,
        evaluation: EvaluationFields | None,
        *,
        hidden: frozenset[str] = frozenset(),
        show_hidden: bool = True,
        where: tuple[str | None, str | None, str | None] = (None, None, None),
    ) -> SubmissionRead:
        scores = dict(evaluation.scores or {}) if evaluation else {}
        overall = evaluation.overall if evaluation else None
        if hidden and not show_hidden:
            scores = {k: v for k, v in scores.items() if k not in hidden}
            overall = sum(scores.values()) / len(scores) if scores else None
        return cls(
            competition=where[0],
            track=where[1],
            phase=where[2],
            is_baseline=submission.is_baseline,
            disqualified_reason=submission.disqualified_reason,
            hidden_scenarios=sorted(hidden) if show_hidden else [],
            hidden_scenario_count=len(hidden),
            id=submission.id,
            team=team_name,
            name=submission.name,
            description=submission.description,
            status=submission.status,
            failure_reason=submission.failure_reason,
            failure_message=submission.failure_message
            if show_hidden or not hidden
            else team_failure_message(submission.failure_reason, submission.failure_message),
            progress=Progress(
                done=evaluation.progress_done if evaluation else 0,
                total=evaluation.progress_total if evaluation else 0,
            ),
            scores=scores,
            overall=overall,
            evaluation=None
            if evaluation is None
            else EvaluationRead(
                id=evaluation.id,
                status=evaluation.status.value,
                suite=evaluation.suite_name,
                suite_hash=evaluation.suite_hash,
                evaluator_version=evaluation.evaluator_version,
                image_id=evaluation.image_id,
                weights_sha256=evaluation.weights_sha256,
                efficiency=evaluation.efficiency,
                started_at=evaluation.started_at,
                finished_at=evaluation.finished_at,
            ),
            created_at=submission.created_at,
            updated_at=submission.updated_at,
        )


class SubmissionList(BaseModel):
    items: list[SubmissionRead]


class SubmissionLogs(BaseModel):
    build_log: str = Field(description="Output of `docker build` (size-capped)")
    container_log: str = Field(
        description="The container's stdout/stderr (size-capped tail); for a team, only up to "
        "readiness while the phase has hidden scenarios (see `container_log_withheld`)"
    )
    container_log_withheld: bool = Field(
        False,
        description="True when the output after start-up is left out: the phase has hidden "
        "scenarios, and what a server prints while it answers could quote their prompts",
    )


class InstanceOutputs(BaseModel):
    """Per-instance prompts' outcomes of the latest evaluation (organizers only)."""

    evaluation_id: str | None
    instances: list[dict[str, Any]]


class CancelRequest(BaseModel):
    reason: str = ""


class RerunRequest(BaseModel):
    suite: str | None = Field(
        None, description="Run this suite (its current version) instead of the last one"
    )
    fresh: bool = Field(False, description="Ask the model everything again (no stored answers)")


class BaselineRequest(BaseModel):
    baseline: bool = True


class DisqualifyRequest(BaseModel):
    reason: str | None = Field(None, description="Shown to the team; empty reinstates")
