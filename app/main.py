"""The FastAPI application."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from app.admin.router import router as admin_router
from app.artifacts.router import router as artifacts_router
from app.audit.router import router as audit_router
from app.competitions.router import router as competitions_router
from app.config import Settings, get_settings
from app.health import DatabaseUnavailableMiddleware, database_unavailable
from app.health import router as health_router
from app.kit.body_limit import BodyLimitMiddleware, TokenCheck
from app.kit.deps import lookup_token
from app.kit.errors import PodiumError
from app.kit.validation import validation_error
from app.leaderboard.router import router as leaderboard_router
from app.logging import configure_api_logging
from app.metrics import LatencyMiddleware, metrics_registry
from app.metrics import router as metrics_router
from app.queue import CeleryQueue, TaskQueue
from app.submissions.router import STREAMED_BODY as SUBMISSION_UPLOAD
from app.submissions.router import router as submissions_router
from app.uploads.allocator import tune_for_streaming
from app.uploads.disk import disk_full_message, is_disk_full
from app.uploads.router import STREAMED_BODY as UPLOAD_CHUNK
from app.uploads.router import router as uploads_router
from app.uploads.service import reclaim_abandoned
from app.web.admin_pages import router as admin_pages_router
from app.web.ops_pages import router as ops_pages_router
from app.web.router import router as web_router

log = logging.getLogger(__name__)


def _token_checker(settings: Settings) -> TokenCheck:
    def token_known(token: str) -> bool:
        return lookup_token(settings.database_url, token) is not None

    return token_known


def create_app(settings: Settings | None = None, queue: TaskQueue | None = None) -> FastAPI:
    settings = settings or get_settings()
    tune_for_streaming()  # large uploads stream through this process; see app/uploads/allocator.py
    app = FastAPI(title="Podium", version="0.1.0")
    app.state.settings = settings
    configure_api_logging(app, settings.log_format)  # PODIUM_LOG_FORMAT=json: app/logging.py
    app.state.queue = queue or CeleryQueue(settings)
    reclaim_abandoned(settings)  # staging of killed uploads, expired uploads: app/uploads/
    # No body is read before the caller's token is checked, and none beyond a small cap but
    # the streamed uploads': see app/kit/body_limit.py.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        token_known=_token_checker(settings),
        streaming=(SUBMISSION_UPLOAD, UPLOAD_CHUNK),
    )
    app.state.metrics_registry, latency = metrics_registry(settings)
    app.add_middleware(LatencyMiddleware, histogram=latency)
    # Outermost: a database outage met before routing (the token check above) is a 503 too.
    app.add_middleware(DatabaseUnavailableMiddleware)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, database_unavailable)  # 503 + Retry-After
    app.add_exception_handler(sa_exc.TimeoutError, database_unavailable)

    @app.exception_handler(PodiumError)
    async def _podium_error(_: Request, exc: PodiumError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.exception_handler(OSError)
    async def _disk_full(_: Request, exc: OSError) -> JSONResponse:
        # The places that write uploads answer a full disk themselves; this catches the rest,
        # so a full disk is never a 500.
        if not is_disk_full(exc):
            raise exc
        return JSONResponse(status_code=507, content={"detail": disk_full_message("this request")})

    app.include_router(health_router)  # /healthz (liveness), /healthz/ready (readiness)
    app.include_router(metrics_router)
    app.include_router(submissions_router)
    app.include_router(leaderboard_router)
    app.include_router(uploads_router)
    app.include_router(competitions_router)
    app.include_router(audit_router)
    app.include_router(admin_router)
    app.include_router(artifacts_router)
    app.include_router(web_router)
    app.include_router(admin_pages_router)
    app.include_router(ops_pages_router)
    return app
