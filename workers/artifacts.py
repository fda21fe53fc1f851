"""Getting a submission's build context and weights onto this worker's disk.

With a shared data directory (one host, or a shared filesystem) they are already there. A worker
on another host sets PODIUM_ARTIFACTS_URL and PODIUM_WORKER_TOKEN and downloads them from the
API once, into its own data directory: written to a staging directory and renamed into place, so
an interrupted download never leaves a half-written context or weights directory behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import IO

import httpx

from app.config import Settings
from app.submissions.storage import Storage


class ArtifactUnavailable(Exception):
    pass


class _ResponseReader:
    """A read-only file over an httpx streaming response, for tarfile's stream mode."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_raw(1024 * 1024)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _download(settings: Settings, what: str, route: str, target: Path) -> Path:
    if not settings.artifacts_url:
        raise ArtifactUnavailable(
            f"{what} is not on this worker's disk ({target}) and PODIUM_ARTIFACTS_URL is not "
            "set: give the worker the API's data directory, or the API's URL and a worker token"
        )
    staging = settings.data_dir / "staging" / f"download-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    url = settings.artifacts_url.rstrip("/") + route
    headers = {"Authorization": f"Bearer {settings.worker_token}"}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            if response.status_code != 200:
                raise ArtifactUnavailable(
                    f"could not download {what} from {url}: HTTP {response.status_code}"
                )
            stream: IO[bytes] = _ResponseReader(response)  # type: ignore[assignment]
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(staging, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # a concurrent download of the same thing won: fine
                raise
        return target
    except httpx.HTTPError as exc:
        raise ArtifactUnavailable(f"could not download {what} from {url}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_context(settings: Settings, submission_id: str) -> Path:
    target = Storage(settings.data_dir).context_dir(submission_id)
    if target.is_dir():
        return target
    return _download(
        settings, "the build context", f"/api/v1/artifacts/contexts/{submission_id}", target
    )


def ensure_weights(settings: Settings, sha256: str) -> Path:
    target = Storage(settings.data_dir).weights_dir(sha256)
    if target.is_dir():
        return target
    return _download(settings, "the weights", f"/api/v1/artifacts/weights/{sha256}", target)
