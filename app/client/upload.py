"""Client side of resumable uploads: send a large file in chunks, surviving broken connections.

The server's offset is the truth. After any failure (connection lost, server restarting, a 409)
the client asks for it and sends from there, waiting longer after each failure in a row. An
unfinished upload of the same bytes (same size and sha256) left on the server by an earlier run is
picked up where it stopped, so running the same command again resumes instead of starting over.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.client.api import PodiumApi
from app.client.errors import ApiError, ClientError, Unreachable

READ_BLOCK = 4 * 1024**2
"""Bytes read from disk and handed to the socket at a time."""
HASH_BLOCK = 1024**2
DEFAULT_CHUNK_SIZE = 64 * 1024**2
"""Bytes per PATCH when the server gives no hint."""
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


def _ignore(_: Any) -> None:
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_failures: int = 12
    """Failures in a row, with no byte of progress between them, before giving up (with the
    default delays that is about ten minutes of outage)."""
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, failures: int) -> float:
        base = min(self.max_delay_s, self.first_delay_s * 2 ** (failures - 1))
        return float(base * random.uniform(0.5, 1.0))  # jitter: many clients do not retry in step


@dataclass
class UploadHooks:
    progress: Callable[[int], None] = field(default=_ignore)
    """Called with the number of bytes sent (it goes back after a failure: the server's offset)."""
    note: Callable[[str], None] = field(default=_ignore)
    """Called with a line worth showing the user (a retry, a resume)."""
    sleep: Callable[[float], None] = field(default=time.sleep)


@dataclass(frozen=True)
class UploadResult:
    upload_id: str
    sha256: str
    size: int
    resumed_from: int
    """Bytes already on the server when this run started (0 for a fresh upload)."""


def sha256_file(path: Path, progress: Callable[[int], None] = _ignore) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK)  # one buffer, refilled: no allocation per block
    view = memoryview(buffer)
    done = 0
    with path.open("rb", buffering=0) as f:
        while count := f.readinto(buffer):
            digest.update(view[:count])
            done += count
            progress(done)
    return digest.hexdigest()


def _blocks(fd: int, offset: int, length: int, sent: Callable[[int], None]) -> Iterator[bytes]:
    end = offset + length
    pos = offset
    while pos < end:
        block = os.pread(fd, min(READ_BLOCK, end - pos), pos)
        if not block:
            raise ClientError("the file got shorter while it was being uploaded; do not touch it")
        pos += len(block)
        yield block
        sent(pos)


class _Uploader:
    def __init__(
        self, api: PodiumApi, upload_id: str, size: int, policy: RetryPolicy, hooks: UploadHooks
    ) -> None:
        self.api, self.upload_id, self.size = api, upload_id, size
        self.policy, self.hooks = policy, hooks
        self.failures = 0

    def failed(self, why: str, *, wait: bool = True) -> None:
        """Count a failure; wait before the next try, or give up after too many in a row."""
        self.failures += 1
        if self.failures > self.policy.max_failures:
            raise ClientError(
                f"upload {self.upload_id} failed {self.failures} times in a row ({why}); "
                "run the same command again later to resume where it stopped"
            )
        if not wait:
            self.hooks.note(why)
            return
        delay = self.policy.delay(self.failures)
        self.hooks.note(
            f"{why}; retrying in {delay:.0f} s ({self.failures}/{self.policy.max_failures})"
        )
        self.hooks.sleep(delay)

    def server_offset(self) -> dict[str, Any]:
        """The upload as the server sees it, retrying while the server cannot be reached."""
        while True:
            try:
                return self.api.get_upload(self.upload_id)
            except Unreachable as exc:
                self.failed(str(exc))
            except ApiError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    if exc.status_code == 404:
                        raise ClientError(
                            f"upload {self.upload_id} is gone from the server (expired or "
                            "deleted); run the command again to start a new one"
                        ) from exc
                    raise
                self.failed(exc.detail)

    def send(self, fd: int, offset: int, chunk_size: int) -> None:
        while offset < self.size:
            length = min(chunk_size, self.size - offset)
            try:
                resp = self.api.send_chunk(
                    self.upload_id, offset, length, _blocks(fd, offset, length, self.hooks.progress)
                )
            except httpx.TransportError as exc:
                self.failed(f"connection lost at byte {offset} ({type(exc).__name__})")
                offset = self._resync()
                continue
            if resp.status_code == 200:
                new_offset = int(resp.json()["offset"])
                if new_offset > offset:
                    self.failures = 0
                offset = new_offset
                self.hooks.progress(offset)
            elif resp.status_code == 409 and _json(resp).get("offset") is not None:
                # Our idea of the offset was wrong (an earlier chunk arrived after all, or only
                # partly): the server says where to go on from. No need to wait for that.
                offset = int(_json(resp)["offset"])
                self.failed(f"the server has {offset} bytes; resuming from there", wait=False)
                self.hooks.progress(offset)
            elif resp.status_code == 409 or resp.status_code in RETRYABLE_STATUS:
                self.failed(f"the server answered {resp.status_code}: {_json(resp).get('detail')}")
                offset = self._resync()
            else:
                raise ApiError(
                    f"the server refused a chunk of upload {self.upload_id} "
                    f"({resp.status_code}): {_json(resp).get('detail', resp.text[:300])}",
                    resp.status_code,
                    str(_json(resp).get("detail", "")),
                )

    def _resync(self) -> int:
        offset = int(self.server_offset()["offset"])
        self.hooks.progress(offset)
        return offset

    def complete(self, sha256: str) -> None:
        while True:
            try:
                done = self.api.complete_upload(self.upload_id, sha256)
                break
            except Unreachable as exc:
                self.failed(str(exc))
            except ApiError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise
                self.failed(exc.detail)
        if done.get("sha256") != sha256:
            raise ClientError(
                f"the server stored sha256 {done.get('sha256')} for upload {self.upload_id}, "
                f"not {sha256}"
            )


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def find_resumable(api: PodiumApi, size: int, sha256: str) -> dict[str, Any] | None:
    """An upload of these same bytes this team left on the server, the most advanced first."""
    same = [u for u in api.list_uploads() if u.get("size") == size and u.get("sha256") == sha256]
    same.sort(key=lambda u: (bool(u.get("complete")), int(u.get("offset", 0))), reverse=True)
    return same[0] if same else None


def upload_file(
    api: PodiumApi,
    path: Path,
    *,
    sha256: str | None = None,
    filename: str | None = None,
    chunk_size: int | None = None,
    policy: RetryPolicy | None = None,
    hooks: UploadHooks | None = None,
) -> UploadResult:
    """Upload `path` with the resumable protocol; returns once the server verified its sha256."""
    hooks = hooks or UploadHooks()
    policy = policy or RetryPolicy()
    size = path.stat().st_size
    if size == 0:
        raise ClientError(f"{path} is empty; there is nothing to upload")
    sha256 = sha256 or sha256_file(path)
    existing = find_resumable(api, size, sha256)
    if existing is not None:
        upload_id, offset = str(existing["id"]), int(existing["offset"])
        complete = bool(existing.get("complete"))
        hint = chunk_size or DEFAULT_CHUNK_SIZE
        hooks.note(
            f"this file is already on the server (upload {upload_id})"
            if complete
            else f"resuming upload {upload_id} at byte {offset} of {size}"
        )
    else:
        created = api.create_upload(filename or path.name, size, sha256)
        upload_id, offset, complete = str(created["id"]), int(created["offset"]), False
        hint = chunk_size or int(created.get("chunk_size_hint") or DEFAULT_CHUNK_SIZE)
    uploader = _Uploader(api, upload_id, size, policy, hooks)
    hooks.progress(offset)
    if not complete:
        fd = os.open(path, os.O_RDONLY)
        try:
            uploader.send(fd, offset, hint)
        finally:
            os.close(fd)
        uploader.complete(sha256)
    hooks.progress(size)
    return UploadResult(upload_id=upload_id, sha256=sha256, size=size, resumed_from=offset)
