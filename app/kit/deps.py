"""FastAPI dependencies, as aliases so handlers read like prose.

Only `get_session` and the token lookup run in the thread pool; the rest are plain `async`
functions (a sync dependency costs a thread-pool hop each). The token is looked up in its own
short unit of work, not the request's session: a request that held a database connection while
it waited for a thread for its handler could wait forever once every thread was taken by
requests waiting for a connection (a pool of 15 connections, 40 threads). Now a connection is
held only inside one hop (and the session's exit, which FastAPI runs outside the thread limit).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth.models import Role
from app.auth.service import Principal, authenticate
from app.config import Settings
from app.kit.db import session_scope
from app.queue import TaskQueue


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """The request's unit of work: commit when the handler returns, roll back on error."""
    with session_scope(settings.database_url) as session:
        yield session


# scope="function": commit before the response is sent, so a 201 means the row is there
# (and its task queued); the default would commit after the client already has its answer.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def lookup_token(database_url: str, token: str) -> Principal | None:
    """Who `token` is, in a unit of work of its own (see the module's note)."""
    with session_scope(database_url) as session:
        return authenticate(session, token)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "missing bearer token: send 'Authorization: Bearer <token>' "
            "(tokens come from `podium admin create-team`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def known(principal: Principal | None) -> Principal:
    if principal is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


def not_a_worker(principal: Principal) -> Principal:
    """A team, organizer or admin. Worker tokens only fetch artifacts."""
    if principal.role is Role.worker:
        raise HTTPException(403, "a worker token can only fetch build contexts and weights")
    return principal


def admitted(principal: Principal | None) -> Principal:
    """What `CurrentPrincipal` lets through of a token's principal (None: unknown or revoked),
    for a handler that looks the token up itself, in its own statement (the polled submission
    GET, `app.submissions.views.poll`)."""
    return not_a_worker(known(principal))


async def _authenticated(request: Request, settings: SettingsDep) -> Principal:
    token = bearer_token(request)
    return known(await run_in_threadpool(lookup_token, settings.database_url, token))


AnyToken = Annotated[Principal, Depends(_authenticated)]


async def get_principal(principal: AnyToken) -> Principal:
    return not_a_worker(principal)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_optional_principal(request: Request, settings: SettingsDep) -> Principal | None:
    """The caller if a valid token was sent, else None (public pages and the leaderboard)."""
    if not request.headers.get("authorization"):
        return None
    principal = await _authenticated(request, settings)
    return None if principal.role is Role.worker else principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_organizer(principal: CurrentPrincipal) -> Principal:
    if not principal.can_read_everything:
        raise HTTPException(403, "this needs an organizer or admin token")
    return principal


CurrentOrganizer = Annotated[Principal, Depends(get_organizer)]


async def get_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role is not Role.admin:
        raise HTTPException(403, "this needs an admin token")
    return principal


CurrentAdmin = Annotated[Principal, Depends(get_admin)]


async def get_worker(principal: AnyToken) -> Principal:
    if principal.role not in (Role.worker, Role.admin):
        raise HTTPException(403, "this needs a worker token")
    return principal


CurrentWorker = Annotated[Principal, Depends(get_worker)]


async def get_team_principal(principal: CurrentPrincipal) -> Principal:
    if principal.team_id is None:
        raise HTTPException(403, "only a team token can submit; use the token of the team")
    return principal


CurrentTeam = Annotated[Principal, Depends(get_team_principal)]


async def get_queue(request: Request) -> TaskQueue:
    queue: TaskQueue = request.app.state.queue
    return queue


QueueDep = Annotated[TaskQueue, Depends(get_queue)]
