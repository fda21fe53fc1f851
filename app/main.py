"""The FastAPI application."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.artifacts.router import router as artifacts_router
from app.audit.router import router as audit_router
from app.competitions.router import router as competitions_router
from app.config import Settings, get_settings
from app.kit.errors import PodiumError
from app.leaderboard.router import router as leaderboard_router
from app.queue import CeleryQueue, TaskQueue
from app.submissions.router import router as submissions_router
from app.uploads.allocator import tune_for_streaming
from app.uploads.router import router as uploads_router
from app.web.router import router as web_router

log = logging.getLogger(__name__)


class Health(BaseModel):
    status: str


def create_app(settings: Settings | None = None, queue: TaskQueue | None = None) -> FastAPI:
    settings = settings or get_settings()
    tune_for_streaming()  # large uploads stream through this process; see app/uploads/allocator.py
    app = FastAPI(title="Podium", version="0.1.0")
    app.state.settings = settings
    app.state.queue = queue or CeleryQueue(settings)

    @app.exception_handler(PodiumError)
    async def _podium_error(_: Request, exc: PodiumError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        return Health(status="ok")

    app.include_router(submissions_router)
    app.include_router(leaderboard_router)
    app.include_router(uploads_router)
    app.include_router(competitions_router)
    app.include_router(audit_router)
    app.include_router(artifacts_router)
    app.include_router(web_router)
    return app
