"""Free disk space for uploads: what is free, what uploads in progress were promised, and a full
disk turned into a 507 the client can act on.

A resumable upload writes its bytes over minutes or hours, so the space it needs is promised
(reserved) when it is created: otherwise two 60 GB uploads both start on 69 GB free and both
fail near the end. Nothing is written to reserve it; the promise is the part of each unfinished
upload not received yet (`size - offset`, read from the upload records), so it shrinks as the
bytes arrive and vanishes with the upload. A floor (`disk_free_floor_bytes`) is kept free on top
of that for the database, the logs and the image builds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from app.kit.errors import InsufficientStorage
from app.uploads.store import UploadStore

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

STREAM_CHECK_EVERY = 16 * 1024**2
"""A streamed multipart body looks at the free space again after this many bytes: often enough
that the floor is never overrun by much, rarely enough to cost nothing (one statvfs)."""


__all__ = ["InsufficientStorage", "StreamingSpace", "disk_full_is_507", "refuse_unless_room"]


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def disk_full_message(what: str) -> str:
    return (
        f"the server's disk filled up while writing {what}; nothing of it was kept. "
        "This is not your upload's fault: try again later or tell the organizers"
    )


@contextmanager
def disk_full_is_507(what: str) -> Iterator[None]:
    """Turn a full disk (ENOSPC, EDQUOT) raised inside the block into InsufficientStorage."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise InsufficientStorage(disk_full_message(what)) from exc
        raise


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def reserved_bytes(settings: Settings) -> int:
    """Bytes that unfinished resumable uploads (of every team) have yet to write."""
    store = UploadStore(settings)
    total = 0
    for upload_id in store.ids():
        meta = store.load(upload_id)
        if meta is not None and not meta.complete:
            total += max(meta.size - meta.offset, 0)
    return total


def refuse_unless_room(settings: Settings, need: int, what: str, *, reserved: int) -> None:
    """Raise InsufficientStorage unless `need` bytes fit in free - reserved - floor."""
    free = free_bytes(settings.data_dir)
    floor = settings.disk_free_floor_bytes
    if free - reserved - floor < need:
        raise InsufficientStorage(
            f"the server has {human_bytes(free)} free and {human_bytes(reserved)} reserved by "
            f"uploads in progress, and keeps {human_bytes(floor)} free for its own work; "
            f"{what} needs {human_bytes(need)}. This is not your upload's fault: try again "
            "later or ask the organizers to free disk space"
        )


@contextmanager
def reservation_lock(settings: Settings) -> Iterator[None]:
    """Serialize "check the free space, then reserve it" across threads and API processes, so
    two uploads cannot both be promised the same bytes."""
    root = UploadStore(settings).root
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".reserve.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class StreamingSpace:
    """Free-space checks for a body streamed to disk (a multipart submission).

    `admit` refuses before any byte is read when the declared Content-Length does not fit;
    `consumed` refuses part-way when the disk fills from elsewhere, or when a body without a
    Content-Length grows past what fits. Either way the caller removes what was written.
    """

    def __init__(self, settings: Settings, content_length: str | None) -> None:
        self.settings = settings
        self.declared = int(content_length) if content_length and content_length.isdigit() else 0
        self.reserved = 0
        self._unchecked = 0

    def admit(self) -> None:
        self.reserved = reserved_bytes(self.settings)
        refuse_unless_room(self.settings, self.declared, "this submission", reserved=self.reserved)

    def consumed(self, count: int) -> None:
        self._unchecked += count
        if self._unchecked >= STREAM_CHECK_EVERY:
            self._unchecked = 0
            refuse_unless_room(
                self.settings, 0, "the rest of this submission", reserved=self.reserved
            )
