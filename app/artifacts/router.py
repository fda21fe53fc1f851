"""Build contexts and weights for workers on hosts that do not share the API's disk."""

from __future__ import annotations

import re

from fastapi.responses import StreamingResponse

from app.artifacts.tar_stream import tar_directory
from app.kit.deps import CurrentWorker, SettingsDep
from app.kit.errors import NotFound
from app.kit.routing import api_router
from app.submissions.storage import Storage

router = api_router(prefix="/api/v1/artifacts", tags=["artifacts"])

_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TAR = "application/x-tar"


@router.get("/contexts/{submission_id}", response_class=StreamingResponse)
def get_context(submission_id: str, _: CurrentWorker, settings: SettingsDep) -> StreamingResponse:
    """The submission's extracted build context, as a tar stream (worker tokens only)."""
    path = Storage(settings.data_dir).context_dir(submission_id)
    if not _ID.match(submission_id) or not path.is_dir():
        raise NotFound(f"no build context for submission {submission_id}")
    return StreamingResponse(tar_directory(path), media_type=TAR)


@router.get("/weights/{sha256}", response_class=StreamingResponse)
def get_weights(sha256: str, _: CurrentWorker, settings: SettingsDep) -> StreamingResponse:
    """Weights stored under their upload's sha256, as a tar stream (worker tokens only)."""
    path = Storage(settings.data_dir).weights_dir(sha256)
    if not _SHA256.match(sha256) or not path.is_dir():
        raise NotFound(f"no weights {sha256}")
    return StreamingResponse(tar_directory(path), media_type=TAR)
