from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request, Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.kit.body_limit import StreamingRoute
from app.kit.db import read_only, utcnow
from app.kit.deps import (
    CurrentAdmin,
    CurrentOrganizer,
    CurrentPrincipal,
    CurrentTeam,
    QueueDep,
    SessionDep,
    SettingsDep,
    admitted,
    bearer_token,
)
from app.kit.routing import api_router
from app.submissions import admin, service, views
from app.submissions.repository import EvaluationRepository
from app.submissions.schemas import (
    BaselineRequest,
    CancelRequest,
    DisqualifyRequest,
    InstanceOutputs,
    RerunRequest,
    SubmissionList,
    SubmissionLogs,
    SubmissionRead,
)
from app.submissions.storage import Storage
from app.submissions.upload import receive_multipart
from app.submissions.views import read_model, read_models
from app.uploads.disk import StreamingSpace

_T = TypeVar("_T")

router = api_router(prefix="/api/v1/submissions", tags=["submissions"])
STREAMED_BODY = StreamingRoute("POST", "/api/v1/submissions")
"""`create_submission` streams its multipart body to disk: exempt from the small-body cap
(app/kit/body_limit.py). Its token is checked by `CurrentTeam` before the handler reads a byte."""


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
    # Each hop ends its transaction: no connection is held while the body streams in, or while
    # the next hop waits for a thread (app/kit/routing.py).
    now = utcnow()
    await run_in_threadpool(_in_unit, session, lambda: service.precheck(session, team, now, query))
    with Storage(settings.data_dir).staging() as staging:
        form = await receive_multipart(
            request.headers.get("content-type", ""),
            request.stream(),
            staging,
            file_fields=service.UPLOAD_FIELDS,
            max_bytes=settings.max_upload_bytes,
            disk=StreamingSpace(settings, request.headers.get("content-length")),
        )

        def create() -> SubmissionRead:
            submission = service.create_submission(session, settings, queue, team, form, staging)
            return read_model(session, team, submission)

        return await run_in_threadpool(_in_unit, session, create)


def _in_unit(session: Session, work: Callable[[], _T]) -> _T:
    """`work()`, then commit, in one thread: its connection is back in the pool after."""
    result = work()
    session.commit()
    return result


@router.get("", response_model=SubmissionList)
def list_submissions(principal: CurrentPrincipal, session: SessionDep) -> SubmissionList:
    return SubmissionList(
        items=read_models(session, principal, service.list_visible(session, principal))
    )


@router.get("/{submission_id}", response_model=SubmissionRead)
async def get_submission(submission_id: str, request: Request, settings: SettingsDep) -> Response:
    """What teams poll while they wait: the token (checked as `CurrentPrincipal` does) and the
    submission are read in one thread hop, on one read-only connection, in one statement
    (`views.poll`), and the answer is serialised there too, not validated again on the loop."""
    body = await run_in_threadpool(_read_one, settings.database_url, request, submission_id)
    return Response(body, media_type="application/json")


def _read_one(database_url: str, request: Request, submission_id: str) -> bytes:
    token = bearer_token(request)

    def read(connection: Connection) -> bytes:
        answer = views.poll(connection, token, submission_id, admit=admitted)
        return answer.model_dump_json().encode()

    return read_only(database_url, read)


@router.get("/{submission_id}/logs", response_model=SubmissionLogs)
def get_logs(
    submission_id: str, principal: CurrentPrincipal, session: SessionDep
) -> SubmissionLogs:
    """Build and container logs; while the phase has hidden scenarios a team gets the
    container's output only up to readiness (it could quote hidden prompts after that)."""
    submission = service.get_visible(session, principal, submission_id)
    return views.logs(session, principal, submission)


@router.get("/{submission_id}/instances", response_model=InstanceOutputs)
def get_instances(
    submission_id: str, principal: CurrentOrganizer, session: SessionDep
) -> InstanceOutputs:
    """Per-instance outputs of the latest finished evaluation, hidden scenarios included."""
    service.get_visible(session, principal, submission_id)
    evaluations = EvaluationRepository(session).for_submission(submission_id)
    done = next((e for e in reversed(evaluations) if e.result), None)
    return InstanceOutputs(
        evaluation_id=done.id if done else None,
        instances=list(done.result.get("instances", [])) if done and done.result else [],
    )


@router.post("/{submission_id}/cancel", response_model=SubmissionRead)
def cancel(
    submission_id: str,
    body: CancelRequest,
    actor: CurrentAdmin,
    session: SessionDep,
    queue: QueueDep,
) -> SubmissionRead:
    submission = admin.cancel(session, actor, submission_id, body.reason, queue)
    return read_model(session, actor, submission)


@router.post("/{submission_id}/rerun", response_model=SubmissionRead)
def rerun(
    submission_id: str,
    body: RerunRequest,
    actor: CurrentAdmin,
    session: SessionDep,
    settings: SettingsDep,
    queue: QueueDep,
) -> SubmissionRead:
    submission = admin.rerun(session, settings, queue, actor, submission_id, body.suite, body.fresh)
    return read_model(session, actor, submission)


@router.post("/{submission_id}/rescore", response_model=SubmissionRead)
def rescore(
    submission_id: str, actor: CurrentAdmin, session: SessionDep, settings: SettingsDep
) -> SubmissionRead:
    evaluation = admin.rescore(session, settings, actor, submission_id)
    return read_model(session, actor, service.get_visible(session, actor, evaluation.submission_id))


@router.post("/{submission_id}/baseline", response_model=SubmissionRead)
def baseline(
    submission_id: str, body: BaselineRequest, actor: CurrentAdmin, session: SessionDep
) -> SubmissionRead:
    return read_model(
        session, actor, admin.set_baseline(session, actor, submission_id, body.baseline)
    )


@router.post("/{submission_id}/disqualify", response_model=SubmissionRead)
def disqualify(
    submission_id: str, body: DisqualifyRequest, actor: CurrentAdmin, session: SessionDep
) -> SubmissionRead:
    return read_model(session, actor, admin.disqualify(session, actor, submission_id, body.reason))
