"""Getting a submission's build context and weights onto this worker's disk.

With a shared data directory (one host, or a shared filesystem) they are already there. A worker
on another host sets PODIUM_ARTIFACTS_URL and PODIUM_WORKER_TOKEN and downloads them from the
API once, into its own data directory: written to a staging directory and renamed into place, so
an interrupted download never leaves a half-written context or weights directory behind.

The downloaded tar is treated like an upload: saved to a file (capped at the size limits plus the
tar format's overhead) and unpacked by `extract_archive`, which resolves every link itself. It is
never handed to `tarfile`'s extraction filter, whose checks some Python releases get wrong
(CVE-2025-4517): an API answer that was tampered with, or a stored tree that holds a link chain,
must not let a worker write outside its staging directory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import httpx

from app.config import Settings
from app.kit.errors import InsufficientStorage
from app.submissions.archive import ArchiveError, ExtractLimits, extract_archive
from app.submissions.storage import Storage

# A tar header is 512 bytes and each member is padded to 512; PAX headers add a few more blocks.
_TAR_OVERHEAD_PER_ENTRY = 4 * 512
_TAR_END = 20 * 512


class ArtifactUnavailable(Exception):
    pass


def _save(response: httpx.Response, path: Path, max_bytes: int, what: str, url: str) -> None:
    received = 0
    with path.open("wb") as out:
        for chunk in response.iter_raw(1024 * 1024):
            received += len(chunk)
            if received > max_bytes:
                raise ArtifactUnavailable(
                    f"{what} from {url} is larger than {max_bytes} bytes, more than the limits "
                    "allow any upload to be: refusing it"
                )
            out.write(chunk)


def _download(
    settings: Settings, what: str, route: str, target: Path, limits: ExtractLimits
) -> Path:
    if not settings.artifacts_url:
        raise ArtifactUnavailable(
            f"{what} is not on this worker's disk ({target}) and PODIUM_ARTIFACTS_URL is not "
            "set: give the worker the API's data directory, or the API's URL and a worker token"
        )
    staging = settings.data_dir / "staging" / f"download-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    archive, tree = staging / "download.tar", staging / "tree"
    url = settings.artifacts_url.rstrip("/") + route
    headers = {"Authorization": f"Bearer {settings.worker_token}"}
    max_tar = limits.max_bytes + limits.max_files * _TAR_OVERHEAD_PER_ENTRY + _TAR_END
    try:
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            if response.status_code != 200:
                raise ArtifactUnavailable(
                    f"could not download {what} from {url}: HTTP {response.status_code}"
                )
            _save(response, archive, max_tar, what, url)
        extract_archive(archive, tree, limits, what, min_free_bytes=settings.disk_free_floor_bytes)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tree, target)
        except OSError:
            if not target.is_dir():  # a concurrent download of the same thing won: fine
                raise
        return target
    except httpx.HTTPError as exc:
        raise ArtifactUnavailable(f"could not download {what} from {url}: {exc}") from exc
    except (ArchiveError, InsufficientStorage) as exc:
        raise ArtifactUnavailable(f"refused {what} downloaded from {url}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_context(settings: Settings, submission_id: str) -> Path:
    target = Storage(settings.data_dir).context_dir(submission_id)
    if target.is_dir():
        return target
    limits = ExtractLimits(settings.max_context_bytes, settings.max_archive_files)
    route = f"/api/v1/artifacts/contexts/{submission_id}"
    return _download(settings, "the build context", route, target, limits)


def ensure_weights(settings: Settings, sha256: str) -> Path:
    target = Storage(settings.data_dir).weights_dir(sha256)
    if target.is_dir():
        return target
    limits = ExtractLimits(settings.max_weights_bytes, settings.max_archive_files)
    route = f"/api/v1/artifacts/weights/{sha256}"
    return _download(settings, "the weights", route, target, limits)
