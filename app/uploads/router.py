"""Resumable uploads: POST to start, PATCH chunks at `Upload-Offset`, POST .../complete.

POST   /api/v1/uploads                 {filename, size, sha256?} -> 201 {id, offset, size, ...}
PATCH  /api/v1/uploads/{id}            Upload-Offset: N, raw bytes -> {offset}
                                       409 {detail, offset} when N is not the server's offset
GET    /api/v1/uploads/{id}            -> {id, filename, size, offset, complete, sha256}
POST   /api/v1/uploads/{id}/complete   {sha256?} -> {id, sha256, size, complete}
DELETE /api/v1/uploads/{id}            -> 204
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from app.auth.service import Principal
from app.kit.body_limit import StreamingRoute
from app.kit.deps import CurrentTeam, SessionDep, SettingsDep
from app.kit.errors import BadRequest, PodiumError
from app.kit.routing import api_router
from app.uploads import service
from app.uploads.schemas import (
    OffsetConflictBody,
    UploadComplete,
    UploadCompleted,
    UploadCreate,
    UploadCreated,
    UploadList,
    UploadOffset,
    UploadRead,
)

CHUNK_CONTENT_TYPES = ("application/offset+octet-stream", "application/octet-stream")


class UnsupportedMediaType(PodiumError):
    status_code = 415


async def get_upload_team(team: CurrentTeam) -> Principal:
    # The token was checked in a unit of work of its own (app/kit/deps.py): a chunk then
    # streams for seconds or minutes and holds no database connection meanwhile.
    return team


UploadTeam = Annotated[Principal, Depends(get_upload_team)]


def _team_id(team: Principal) -> str:
    assert team.team_id is not None  # CurrentTeam refuses tokens without a team
    return team.team_id


def _offset_conflict(exc: service.OffsetConflict | service.ChunkDiskFull) -> JSONResponse:
    body = OffsetConflictBody(detail=exc.message, offset=exc.offset)
    return JSONResponse(
        status_code=exc.status_code,
        content=body.model_dump(),
        headers={"Upload-Offset": str(exc.offset)},
    )


_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": OffsetConflictBody, "description": "Resume from `offset`"},
    507: {"model": OffsetConflictBody, "description": "Disk full: resume from `offset` later"},
}

router = api_router(prefix="/api/v1/uploads", tags=["uploads"])
STREAMED_BODY = StreamingRoute("PATCH", "/api/v1/uploads/{upload_id}")
"""`write_chunk` streams its body to disk: exempt from the small-body cap (app/kit/body_limit.py).
Its token is checked by `UploadTeam` before the handler reads a byte."""


@router.post("", status_code=201, response_model=UploadCreated)
def create_upload(
    body: UploadCreate, team: UploadTeam, session: SessionDep, settings: SettingsDep
) -> UploadCreated:
    """Start a resumable upload of `size` bytes (model weights: a file or an archive); its size
    is reserved on disk (507 when the disk cannot take it, 413 past the team's quota)."""
    meta = service.create_upload(
        session, settings, _team_id(team), body.filename, body.size, body.sha256
    )
    return UploadCreated(
        id=meta.id, offset=meta.offset, size=meta.size, chunk_size_hint=service.CHUNK_SIZE_HINT
    )


@router.get("", response_model=UploadList)
def list_uploads(team: UploadTeam, settings: SettingsDep) -> UploadList:
    """This team's uploads not yet claimed by a submission, complete or not."""
    items = [UploadRead.build(m) for m in service.list_uploads(settings, _team_id(team))]
    return UploadList(items=items)


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            ctype: {"schema": {"type": "string", "format": "binary"}}
            for ctype in CHUNK_CONTENT_TYPES
        },
    }
}


@router.patch(
    "/{upload_id}", response_model=UploadOffset, responses=_CONFLICT, openapi_extra=_RAW_BODY
)
async def write_chunk(
    upload_id: str,
    request: Request,
    response: Response,
    team: UploadTeam,
    settings: SettingsDep,
    upload_offset: Annotated[int, Header(ge=0)],
) -> UploadOffset | JSONResponse | Response:
    """Write the request body at `Upload-Offset`, which must be the upload's current offset."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CHUNK_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"send the chunk as raw bytes with Content-Type {CHUNK_CONTENT_TYPES[0]} "
            f"(or {CHUNK_CONTENT_TYPES[1]}), not {content_type or 'nothing'}"
        )
    length = request.headers.get("content-length")
    if length is not None and not length.isdigit():
        raise BadRequest(f"Content-Length {length!r} is not a number")
    try:
        meta = await service.write_chunk(
            settings,
            _team_id(team),
            upload_id,
            upload_offset,
            request.stream(),
            int(length) if length is not None else None,
        )
    except (service.OffsetConflict, service.ChunkDiskFull) as exc:
        return _offset_conflict(exc)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it; what arrived is already counted
    response.headers["Upload-Offset"] = str(meta.offset)
    return UploadOffset(offset=meta.offset)


@router.get("/{upload_id}", response_model=UploadRead)
def get_upload(
    upload_id: str, response: Response, team: UploadTeam, settings: SettingsDep
) -> UploadRead:
    meta = service.get_upload(settings, _team_id(team), upload_id)
    response.headers["Upload-Offset"] = str(meta.offset)
    return UploadRead.build(meta)


@router.post("/{upload_id}/complete", response_model=UploadCompleted, responses=_CONFLICT)
def complete_upload(
    upload_id: str,
    team: UploadTeam,
    settings: SettingsDep,
    body: Annotated[UploadComplete | None, Body()] = None,
) -> UploadCompleted | JSONResponse:
    """Verify size and sha256; a hash mismatch discards the upload (422)."""
    try:
        meta = service.complete_upload(
            settings, _team_id(team), upload_id, body.sha256 if body else None
        )
    except service.OffsetConflict as exc:
        return _offset_conflict(exc)
    assert meta.sha256 is not None
    return UploadCompleted(id=meta.id, sha256=meta.sha256, size=meta.size, complete=True)


@router.delete("/{upload_id}", status_code=204)
def delete_upload(upload_id: str, team: UploadTeam, settings: SettingsDep) -> Response:
    service.delete_upload(settings, _team_id(team), upload_id)
    return Response(status_code=204)
