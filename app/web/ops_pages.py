"""The operations page (organizers and admins): what is queued and running, with progress and
age; the workers alive, with their GPUs and engine; the last failures and their reasons; and the
disk against its budgets. It answers "is the system keeping up, and if not, where is it stuck"
without a shell on the servers.

Only small columns are read: never a build log, container log or per-instance result, so the
page stays fast however large those are.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import health, presence
from app.auth.models import Team
from app.config import Settings
from app.kit.db import utcnow
from app.kit.deps import SessionDep, SettingsDep
from app.kit.routing import api_router
from app.submissions.models import Evaluation, EvaluationStatus, Submission, SubmissionStatus
from app.uploads.disk import human_bytes, reserved_bytes
from app.web.auth import PagePrincipal
from app.web.render import error_page, render

router = api_router(include_in_schema=False, tags=["web"])

PAGE = "/admin/ops"
ORGANIZERS_ONLY = "The operations page is for organizers and admins. Log in with such a token."
IN_FLIGHT_LIMIT = 200
FAILURES_LIMIT = 20


@dataclass(frozen=True)
class Work:
    submission_id: str
    team: str
    name: str
    stage: str
    """`queued`, `building`, `evaluation queued`, `evaluating`."""
    age_s: float
    """Since it entered this stage (or was created, when that is not recorded)."""
    done: int = 0
    total: int = 0
    heartbeat_age_s: float | None = None
    gpus: str = ""
    attempts: int = 0
    stale: bool = False
    """Running, but its heartbeat is older than the reaper's stale limit."""


@dataclass(frozen=True)
class Failure:
    submission_id: str
    team: str
    name: str
    at: datetime
    reason: str
    message: str


@dataclass(frozen=True)
class Disk:
    path: str
    total: int
    free: int
    floor: int
    reserved: int
    """What unfinished uploads were promised and have not written yet."""

    @property
    def room_for_uploads(self) -> int:
        return max(self.free - self.reserved - self.floor, 0)

    @property
    def low(self) -> bool:
        return self.room_for_uploads == 0

    @property
    def used_percent(self) -> float:
        return 100.0 * (self.total - self.free) / self.total if self.total else 0.0


def _seconds(since: datetime | None, now: datetime) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


def age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def in_flight(session: Session, settings: Settings, now: datetime) -> list[Work]:
    work: list[Work] = []
    waiting = session.execute(
        select(
            Submission.id,
            Team.name,
            Submission.name,
            Submission.status,
            Submission.created_at,
            Submission.updated_at,
        )
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.status.in_([SubmissionStatus.queued, SubmissionStatus.building]))
        .order_by(Submission.created_at)
        .limit(IN_FLIGHT_LIMIT)
    ).all()
    for sub_id, team, name, status, created, updated in waiting:
        since = created if status is SubmissionStatus.queued else updated
        work.append(Work(sub_id, team, name, status.value, _seconds(since, now)))
    evaluations = session.execute(
        select(
            Evaluation.submission_id,
            Team.name,
            Submission.name,
            Evaluation.status,
            Evaluation.created_at,
            Evaluation.started_at,
            Evaluation.heartbeat_at,
            Evaluation.progress_done,
            Evaluation.progress_total,
            Evaluation.gpu_ids,
            Evaluation.attempts,
        )
        .join(Submission, Submission.id == Evaluation.submission_id)
        .join(Team, Team.id == Submission.team_id)
        .where(Evaluation.status.in_([EvaluationStatus.queued, EvaluationStatus.running]))
        .order_by(Evaluation.created_at)
        .limit(IN_FLIGHT_LIMIT)
    ).all()
    for row in evaluations:
        sub_id, team, name, eval_status, created, started, beat, done, total, gpus, attempts = row
        running = eval_status is EvaluationStatus.running
        beat_age = _seconds(beat, now) if beat is not None else None
        work.append(
            Work(
                sub_id,
                team,
                name,
                "evaluating" if running else "evaluation queued",
                _seconds(started if running and started else created, now),
                done=done,
                total=total,
                heartbeat_age_s=beat_age,
                gpus=gpus,
                attempts=attempts,
                stale=running and beat_age is not None and beat_age > settings.stale_after_s,
            )
        )
    return sorted(work, key=lambda w: w.age_s, reverse=True)


def last_failures(session: Session) -> list[Failure]:
    failed_submissions = session.execute(
        select(
            Submission.id,
            Team.name,
            Submission.name,
            Submission.updated_at,
            Submission.failure_reason,
            Submission.failure_message,
        )
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.status == SubmissionStatus.failed)
        .order_by(Submission.updated_at.desc())
        .limit(FAILURES_LIMIT)
    ).all()
    failures = [
        Failure(sid, team, name, at, reason.value if reason else "unknown", message or "")
        for sid, team, name, at, reason, message in failed_submissions
    ]
    # A failed re-run leaves its submission scored: it shows only as a failed evaluation.
    failed_reruns = session.execute(
        select(
            Evaluation.submission_id,
            Team.name,
            Submission.name,
            Evaluation.updated_at,
            Evaluation.error,
        )
        .join(Submission, Submission.id == Evaluation.submission_id)
        .join(Team, Team.id == Submission.team_id)
        .where(
            Evaluation.status == EvaluationStatus.failed,
            Submission.status != SubmissionStatus.failed,
        )
        .order_by(Evaluation.updated_at.desc())
        .limit(FAILURES_LIMIT)
    ).all()
    failures += [
        Failure(sid, team, name, at, "evaluation failed", error or "")
        for sid, team, name, at, error in failed_reruns
    ]
    return sorted(failures, key=lambda f: f.at, reverse=True)[:FAILURES_LIMIT]


def disk(settings: Settings) -> Disk:
    path = settings.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path)
    return Disk(
        path=str(settings.data_dir),
        total=usage.total,
        free=usage.free,
        floor=settings.disk_free_floor_bytes,
        reserved=reserved_bytes(settings),
    )


@router.get(PAGE, response_class=HTMLResponse)
def ops_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: PagePrincipal
) -> Response:
    if principal is None:
        return RedirectResponse(f"/login?next={quote(PAGE, safe='')}", status_code=303)
    if not principal.can_read_everything:
        return error_page(request, principal, 403, ORGANIZERS_ONLY)
    now = utcnow()
    workers_error = ""
    try:
        beats = presence.beats(settings)
    except Exception as exc:  # the broker down: the rest of the page still helps
        beats, workers_error = [], f"the workers' beats could not be read from the broker: {exc}"
    try:
        depths = health.queue_depths(settings)
    except Exception:
        depths = {}
    wall = time.time()
    return render(
        request,
        "ops.html",
        principal,
        work=in_flight(session, settings, now),
        failures=last_failures(session),
        workers=[(beat, beat.alive(settings, wall), beat.age_s(wall)) for beat in beats],
        workers_error=workers_error,
        depths=depths,
        disk=disk(settings),
        image_budget=settings.image_disk_budget_bytes,
        stale_after_s=settings.stale_after_s,
        age=age,
        human_bytes=human_bytes,
    )
