from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.auth.models import Team
from app.kit.db import utcnow
from app.kit.deps import CurrentPrincipal, CurrentTeam, QueueDep, SessionDep, SettingsDep
from app.submissions import service
from app.submissions.schemas import SubmissionList, SubmissionLogs, SubmissionRead
from app.submissions.storage import Storage
from app.submissions.upload import receive_multipart

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])


def _team_name(session: SessionDep, team_id: str) -> str:
    team = session.get(Team, team_id)
    return team.name if team else "?"


@router.post("", status_code=201, response_model=SubmissionRead)
async def create_submission(
    request: Request,
    team: CurrentTeam,
    session: SessionDep,
    settings: SettingsDep,
    queue: QueueDep,
) -> SubmissionRead:
    """Upload a build context (`context`) and optional `weights`; the build is queued."""
    query = {k: request.query_params.get(k) for k in ("competition", "track", "phase")}
    await run_in_threadpool(service.precheck, session, team, utcnow(), query)
    with Storage(settings.data_dir).staging() as staging:
        form = await receive_multipart(
            request.headers.get("content-type", ""),
            request.stream(),
            staging,
            file_fields=service.UPLOAD_FIELDS,
            max_bytes=settings.max_upload_bytes,
        )
        submission = await run_in_threadpool(
            service.create_submission, session, settings, queue, team, form, staging
        )
    return SubmissionRead.build(submission, team.team_name or "?", None)


@router.get("", response_model=SubmissionList)
def list_submissions(principal: CurrentPrincipal, session: SessionDep) -> SubmissionList:
    items = [
        SubmissionRead.build(
            s, _team_name(session, s.team_id), service.latest_evaluation(session, s.id)
        )
        for s in service.list_visible(session, principal)
    ]
    return SubmissionList(items=items)


@router.get("/{submission_id}", response_model=SubmissionRead)
def get_submission(
    submission_id: str, principal: CurrentPrincipal, session: SessionDep
) -> SubmissionRead:
    submission = service.get_visible(session, principal, submission_id)
    evaluation = service.latest_evaluation(session, submission.id)
    return SubmissionRead.build(submission, _team_name(session, submission.team_id), evaluation)


@router.get("/{submission_id}/logs", response_model=SubmissionLogs)
def get_logs(
    submission_id: str, principal: CurrentPrincipal, session: SessionDep
) -> SubmissionLogs:
    submission = service.get_visible(session, principal, submission_id)
    evaluation = service.latest_evaluation(session, submission.id)
    return SubmissionLogs(
        build_log=submission.build_log,
        container_log=evaluation.container_log if evaluation else "",
    )
