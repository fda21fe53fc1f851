"""Resumable uploads of large files (model weights), in chunks sent at explicit offsets.

A client creates an upload (name, size, optionally its sha256), PATCHes chunks at the offset the
server reports, and completes it; after a broken connection it asks for the offset and goes on
from there. Chunks are streamed to disk as they arrive, so the server's memory does not depend on
the chunk size. The sha256 is computed while the chunks arrive; a server restart (or a chunk that
reached another API process) loses that running state, and completion then re-reads the file.

The submission service takes a completed upload with `claim_completed`, moves or reads its file,
and then calls `forget`. Uploads nobody completes or claims are removed by `prune_expired`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app.config import Settings
from app.kit.db import new_id, utcnow
from app.kit.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PodiumError,
    Unprocessable,
)
from app.submissions.storage import Storage
from app.uploads.disk import (
    InsufficientStorage,
    disk_full_is_507,
    free_bytes,
    human_bytes,
    is_disk_full,
    refuse_unless_room,
    reservation_lock,
    reserved_bytes,
)
from app.uploads.quota import team_usage
from app.uploads.store import UploadMeta, UploadStore

CHUNK_SIZE_HINT = 256 * 1024**2
"""What clients are told to send per PATCH. Each chunk ends with fsyncs and a meta rewrite (about
20 ms here), so larger chunks go faster (bench/README.md); a chunk cut off by the client keeps
what arrived, so only a server crash can cost up to one chunk."""

INCOMPLETE_MAX_AGE = timedelta(hours=48)
"""An unfinished upload with no chunk for this long is removed by `prune_expired`. A module
constant rather than a setting: nobody has needed to tune it yet."""

COMPLETE_MAX_AGE = timedelta(days=7)
"""A completed upload no submission claimed within this long is removed by `prune_expired`."""

CHUNK_IDLE_TIMEOUT_S = 60.0
"""A chunk whose bytes stop arriving for this long ends there (what arrived counts), so a
connection that died without a word does not keep the upload locked."""

MAX_OPEN_UPLOADS_PER_TEAM = 8
"""Unfinished uploads a team may hold at once, so abandoned sessions cannot fill the disk."""

RECORD_ROOM = 1024**2
"""Bytes of a chunk given back when a full disk leaves no block for the upload's record."""

WRITE_BATCH = 4 * 1024**2
"""Received bytes handed to a writer thread at a time."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_READ_BLOCK = 1024**2
_writers = ThreadPoolExecutor(thread_name_prefix="upload-writer")


class ChunkStalled(PodiumError):
    status_code = 408


class OffsetConflict(Conflict):
    """The client's offset is not the server's: it resends from `offset`."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class ChunkDiskFull(InsufficientStorage):
    """The disk filled up during a chunk: the bytes that fit are kept up to `offset`."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class ClaimedUpload:
    """A completed upload handed to the submission service.

    `path` is the uploaded file itself, inside the uploads area. The caller reads it or moves it
    into weights storage (same filesystem, so `os.replace` works), and once the submission is
    stored calls `forget(settings, upload_id)`. If the submission is refused, the caller leaves the
    upload alone: the team can submit again with the same upload id without re-sending the bytes.
    """

    path: Path
    sha256: str
    filename: str
    size: int


class _RunningHashes:
    """sha256 states of uploads in progress, keyed by the offset they have hashed up to.

    hashlib objects cannot be saved to disk, so these live in this process only; a state is
    used only when a chunk starts exactly where it stopped, otherwise completion re-reads the
    file. The bytes below an upload's recorded offset never change, so a state stays valid.
    """

    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self._states: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, upload_id: str, offset: int) -> hashlib._Hash | None:
        with self._lock:
            entry = self._states.pop(upload_id, None)
        if offset == 0:
            return hashlib.sha256()
        if entry is not None and entry[0] == offset:
            return entry[1]
        return None

    def put(self, upload_id: str, offset: int, state: hashlib._Hash) -> None:
        with self._lock:
            self._states[upload_id] = (offset, state)
            while len(self._states) > self.MAX_ENTRIES:
                self._states.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        with self._lock:
            self._states.pop(upload_id, None)


_hashes = _RunningHashes()


def _normalize_sha256(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if not _SHA256.match(value):
        raise BadRequest(f"sha256 {raw!r} is not 64 hex digits (sha256sum FILE prints it)")
    return value


def _check_filename(raw: str) -> str:
    name = raw.strip()
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or len(name.encode()) > 255
    ):
        raise BadRequest(
            f"filename {raw!r} must be a plain file name (no directories, at most 255 bytes), "
            "e.g. model.safetensors or weights.tar"
        )
    return name


def _owned(store: UploadStore, team_id: str, upload_id: str) -> UploadMeta:
    meta = store.load(upload_id)
    if meta is None or meta.team_id != team_id:
        # Another team's upload reads exactly like a missing one.
        raise NotFound(f"no upload {upload_id} for your team (expired, discarded or never created)")
    return meta


def create_upload(
    session: Session,
    settings: Settings,
    team_id: str,
    filename: str,
    size: int,
    sha256: str | None,
) -> UploadMeta:
    """Start an upload and reserve its `size` on disk (see app/uploads/disk.py); refused with
    507 when the disk cannot take it, 413 past the team's storage quota."""
    if size > settings.max_weights_bytes:
        raise PayloadTooLarge(
            f"the file is {size} bytes; weights may be at most {settings.max_weights_bytes} bytes "
            "(ask the organizers if your model needs more)"
        )
    if size <= 0:
        raise BadRequest("size must be the file's length in bytes, at least 1")
    name = _check_filename(filename)
    declared = _normalize_sha256(sha256)
    store = UploadStore(settings)
    store.root.mkdir(parents=True, exist_ok=True)
    prune_expired(settings)
    open_ids = [m.id for m in list_uploads(settings, team_id) if not m.complete]
    if len(open_ids) >= MAX_OPEN_UPLOADS_PER_TEAM:
        raise Conflict(
            f"your team already has {len(open_ids)} unfinished uploads ({', '.join(open_ids)}); "
            "finish or DELETE one of them first"
        )
    with reservation_lock(settings):
        team_usage(session, settings, team_id).refuse_past_quota(size, "this upload")
        refuse_unless_room(settings, size, "this upload", reserved=reserved_bytes(settings))
        return _create(store, team_id, name, size, declared)


def _create(
    store: UploadStore, team_id: str, name: str, size: int, declared: str | None
) -> UploadMeta:
    now = utcnow()
    meta = UploadMeta(
        id=new_id(),
        team_id=team_id,
        filename=name,
        size=size,
        offset=0,
        declared_sha256=declared,
        sha256=None,
        complete=False,
        created_at=now,
        updated_at=now,
    )
    try:
        with disk_full_is_507("the new upload's record"):
            store.create(meta)
    except BaseException:
        store.remove(meta.id)
        raise
    return meta


def list_uploads(settings: Settings, team_id: str) -> list[UploadMeta]:
    """The team's uploads, oldest first (a client looks here for one to resume)."""
    store = UploadStore(settings)
    metas = (store.load(upload_id) for upload_id in store.ids())
    mine = [m for m in metas if m is not None and m.team_id == team_id]
    return sorted(mine, key=lambda m: m.created_at)


def get_upload(settings: Settings, team_id: str, upload_id: str) -> UploadMeta:
    return _owned(UploadStore(settings), team_id, upload_id)


def _record_progress(store: UploadStore, meta: UploadMeta, fd: int, new_offset: int) -> None:
    """Make the written bytes durable, then count them: the offset never runs ahead of the disk.

    On a full disk the record itself may find no block: then the last MiB of the chunk is given
    back to make room, and if even that fails the whole chunk, so that the bytes on disk and the
    recorded offset always agree.
    """
    previous = meta.offset, meta.updated_at
    targets = dict.fromkeys([new_offset, max(previous[0], new_offset - RECORD_ROOM)])
    failure: OSError | None = None
    for target in targets:
        # Past `target` lies at most what a full disk cut short: free it before the record
        # needs a block of its own.
        os.ftruncate(fd, target)
        try:
            os.fsync(fd)
            meta.offset = target
            meta.updated_at = utcnow()
            store.save(meta)
            return
        except OSError as exc:
            meta.offset, meta.updated_at = previous
            if not is_disk_full(exc):
                raise
            failure = exc
    os.ftruncate(fd, meta.offset)
    assert failure is not None
    raise failure


class _ChunkWriter:
    """Writes and hashes the pieces of one chunk on a worker thread, a batch at a time, while
    the event loop goes on receiving: at most two batches of one chunk are ever in memory."""

    def __init__(self, fd: int, offset: int, hasher: hashlib._Hash | None) -> None:
        self.fd, self.start, self.hasher = fd, offset, hasher
        self.written = 0
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._running: Future[None] | None = None

    def _write(self, pieces: list[bytes]) -> None:  # on a worker thread
        for piece in pieces:
            view = memoryview(piece)
            while view:
                # Counted write by write: when the disk fills up part-way, `written` is exactly
                # what reached the file, and the upload keeps it.
                count = os.pwrite(self.fd, view, self.start + self.written)
                if self.hasher is not None:
                    self.hasher.update(view[:count])
                self.written += count
                view = view[count:]
        # Start writing these pages to disk now, so that the fsync ending the chunk finds little
        # left to do, and drop the pages already on disk: nothing reads them again, and a 200 GB
        # upload should not push everything else out of the page cache.
        os.posix_fadvise(self.fd, self.start, self.written, os.POSIX_FADV_DONTNEED)

    async def add(self, piece: bytes) -> None:
        self._batch.append(piece)
        self._batch_bytes += len(piece)
        if self._batch_bytes >= WRITE_BATCH:
            await self._hand_over()

    async def _wait_running(self) -> None:
        if self._running is not None:
            # Shielded: a cancelled request must not cancel a write half-way; `join` waits for it.
            await asyncio.shield(asyncio.wrap_future(self._running))
            self._running = None

    async def _hand_over(self) -> None:
        await self._wait_running()
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            self._running = _writers.submit(self._write, batch)

    async def drain(self) -> None:
        """Write everything received so far; raises what the write raised (a full disk)."""
        await self._hand_over()
        await self._wait_running()

    def join(self) -> None:
        """Block until no write runs (even when the request was cancelled): the caller closes
        the file descriptor next, and a late write must never land on a reused one."""
        if self._running is not None:
            wait([self._running])


async def write_chunk(
    settings: Settings,
    team_id: str,
    upload_id: str,
    offset: int,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> UploadMeta:
    """Write the bytes of `body` at `offset` as they arrive; returns the upload's new state.

    If `body` fails part-way (the client went away), the bytes received until then are written,
    fsynced and counted, and the error propagates; the client resumes from the offset GET reports.
    """
    store = UploadStore(settings)
    with store.locked(upload_id):
        meta = _owned(store, team_id, upload_id)
        if meta.complete:
            raise Conflict(f"upload {upload_id} is already complete; it takes no more bytes")
        if offset != meta.offset:
            raise OffsetConflict(
                f"Upload-Offset is {offset} but the server has {meta.offset} bytes of upload "
                f"{upload_id}; send the chunk that starts at {meta.offset}",
                meta.offset,
            )
        remaining = meta.size - offset
        if content_length is not None and content_length > remaining:
            raise BadRequest(
                f"a chunk of {content_length} bytes at offset {offset} passes the declared size "
                f"{meta.size}; at most {remaining} bytes remain"
            )
        _refuse_chunk_without_room(settings, meta, content_length or 0)
        fd = os.open(store.data_path(upload_id), os.O_WRONLY)
        writer = _ChunkWriter(fd, offset, _hashes.take(upload_id, offset))
        try:
            os.ftruncate(fd, offset)  # drop the bytes of a chunk cut off by a crash
            received = 0
            refused = False
            pieces = aiter(body)
            try:
                while True:
                    try:
                        async with asyncio.timeout(CHUNK_IDLE_TIMEOUT_S):
                            piece = await anext(pieces)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise ChunkStalled(
                            f"no byte of the chunk arrived for {CHUNK_IDLE_TIMEOUT_S:.0f} s; "
                            "what arrived is kept: GET the upload and resume from its offset"
                        ) from None
                    received += len(piece)
                    if received > remaining:
                        refused = True  # the whole chunk is refused: count none of it
                        raise BadRequest(
                            f"the chunk at offset {offset} passes the declared size {meta.size}; "
                            f"at most {remaining} bytes remain"
                        )
                    await writer.add(piece)
            finally:
                if not refused:
                    try:
                        await writer.drain()
                    finally:
                        if writer.written:
                            new_offset = offset + writer.written
                            await asyncio.to_thread(_record_progress, store, meta, fd, new_offset)
                        if writer.hasher is not None:
                            _hashes.put(upload_id, offset + writer.written, writer.hasher)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            writer.join()
            os.ftruncate(fd, meta.offset)  # nothing past the recorded offset stays on disk
            raise ChunkDiskFull(
                f"the server's disk filled up during this chunk; upload {upload_id} keeps "
                f"{meta.offset} of {meta.size} bytes. This is not your upload's fault: resume "
                f"from offset {meta.offset} later, or tell the organizers",
                meta.offset,
            ) from exc
        finally:
            writer.join()
            os.close(fd)
    return meta


def _refuse_chunk_without_room(settings: Settings, meta: UploadMeta, length: int) -> None:
    """The upload's space was reserved when it was created, but something else (builds, logs,
    another program) may have taken it since: refuse the chunk before writing a byte of it."""
    free = free_bytes(settings.data_dir)
    floor = settings.disk_free_floor_bytes
    if free - floor < length:
        raise ChunkDiskFull(
            f"the server has {human_bytes(free)} free and keeps {human_bytes(floor)} for its own "
            f"work, too little for this chunk of {human_bytes(length)}; upload {meta.id} keeps "
            f"its {meta.offset} bytes. This is not your upload's fault: resume from offset "
            f"{meta.offset} later, or tell the organizers",
            meta.offset,
        )


def _hash_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as f:
        left = size
        while left:
            count = f.readinto(view[: min(_READ_BLOCK, left)])
            if not count:
                break
            digest.update(view[:count])
            left -= count
    return digest.hexdigest()


def complete_upload(
    settings: Settings, team_id: str, upload_id: str, sha256: str | None
) -> UploadMeta:
    """Check that every byte arrived and that they hash to what the client declared.

    A hash mismatch discards the upload: those bytes are not what the team meant to send.
    """
    store = UploadStore(settings)
    declared = _normalize_sha256(sha256)
    with store.locked(upload_id):
        meta = _owned(store, team_id, upload_id)
        if meta.complete:
            if declared is not None and declared != meta.sha256:
                raise Unprocessable(
                    f"upload {upload_id} is complete with sha256 {meta.sha256}, "
                    f"not the declared {declared}"
                )
            return meta
        if meta.offset != meta.size:
            raise OffsetConflict(
                f"upload {upload_id} has {meta.offset} of {meta.size} bytes; send the rest from "
                f"offset {meta.offset}, then complete it",
                meta.offset,
            )
        if declared and meta.declared_sha256 and declared != meta.declared_sha256:
            raise BadRequest(
                f"sha256 {declared} differs from the {meta.declared_sha256} declared when the "
                "upload was created; declare one hash"
            )
        expected = declared or meta.declared_sha256
        state = _hashes.take(upload_id, meta.size)
        actual = state.hexdigest() if state is not None else None
        if actual is None:
            actual = _hash_file(store.data_path(upload_id), meta.size)
        if expected is not None and actual != expected:
            store.remove(upload_id)
            raise Unprocessable(
                f"sha256 mismatch: declared {expected}, received bytes hash to {actual}; "
                "the upload was discarded, upload the file again"
            )
        meta.complete = True
        meta.sha256 = actual
        meta.declared_sha256 = expected
        meta.updated_at = utcnow()
        with disk_full_is_507(f"the record of upload {upload_id} (it stays incomplete)"):
            store.save(meta)
    return meta


def delete_upload(settings: Settings, team_id: str, upload_id: str) -> None:
    store = UploadStore(settings)
    with store.locked(upload_id):
        _owned(store, team_id, upload_id)
        store.remove(upload_id)
    _hashes.drop(upload_id)


def claim_completed(settings: Settings, team_id: str, upload_id: str) -> ClaimedUpload:
    """The file of a completed upload of this team, for the submission service to take over.

    Raises NotFound (no such upload for this team) or BadRequest (not complete yet). The upload is
    not consumed: the caller moves or reads `path`, then calls `forget`; see `ClaimedUpload`.
    """
    store = UploadStore(settings)
    meta = _owned(store, team_id, upload_id)
    if not meta.complete or meta.sha256 is None:
        raise BadRequest(
            f"weights upload {upload_id} is not complete ({meta.offset} of {meta.size} bytes "
            f"received); finish it and POST /api/v1/uploads/{upload_id}/complete first"
        )
    return ClaimedUpload(
        path=store.data_path(upload_id), sha256=meta.sha256, filename=meta.filename, size=meta.size
    )


def forget(settings: Settings, upload_id: str) -> None:
    """Remove an upload (whatever is left of it); call after a claimed upload was stored."""
    store = UploadStore(settings)
    if store.valid_id(upload_id):
        store.remove(upload_id)
    _hashes.drop(upload_id)


def prune_expired(
    settings: Settings,
    *,
    incomplete_max_age: timedelta = INCOMPLETE_MAX_AGE,
    complete_max_age: timedelta = COMPLETE_MAX_AGE,
    now: datetime | None = None,
) -> list[str]:
    """Remove uploads idle past their age (see the constants); returns the ids removed.

    An upload with a request in flight is skipped (its lock is held).
    """
    store = UploadStore(settings)
    now = now or utcnow()
    removed = []
    for upload_id in store.ids():
        try:
            with store.locked(upload_id):
                meta = store.load(upload_id)
                if meta is None:
                    # Creation died before meta.json was written: judge by the directory's age.
                    stamp = os.stat(store.dir(upload_id)).st_mtime
                    expired = now.timestamp() - stamp > incomplete_max_age.total_seconds()
                else:
                    max_age = complete_max_age if meta.complete else incomplete_max_age
                    expired = now - meta.updated_at > max_age
                if expired:
                    store.remove(upload_id)
                    removed.append(upload_id)
        except (Conflict, FileNotFoundError):
            continue
    for upload_id in removed:
        _hashes.drop(upload_id)
    return removed


def reclaim_abandoned(settings: Settings) -> None:
    """At API start-up: remove what killed processes left behind (multipart staging whose owner
    died) and resumable uploads idle past their expiry, so their space is free and unreserved."""
    Storage(settings.data_dir).sweep_staging()
    prune_expired(settings)
