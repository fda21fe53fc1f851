"""Upload sessions on disk: the bytes and a small JSON record, nothing in the database.

    <data>/uploads/<id>/data        the bytes received so far, written in place at their offset
    <data>/uploads/<id>/meta.json   team, filename, size, durable offset, hashes, timestamps
    <data>/uploads/<id>/lock        flock'ed by whoever changes the session (one writer at a time)

`meta.json` is the source of truth for the offset: it is rewritten atomically (temporary file,
fsync, rename) only after the bytes it counts were fsynced. Bytes past the recorded offset (a
chunk cut off mid-way by a server crash) are overwritten by the next chunk, so the bytes below
the offset never change once counted.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from app.config import Settings
from app.kit.errors import Conflict

_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class UploadMeta:
    """Everything known about one upload session, as stored in meta.json."""

    id: str
    team_id: str
    filename: str
    size: int
    offset: int
    declared_sha256: str | None
    """What the client said the bytes hash to (at creation or at completion), if it said."""
    sha256: str | None
    """The hash of the received bytes, set once the upload is complete and verified."""
    complete: bool
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> str:
        raw = asdict(self)
        raw["created_at"] = self.created_at.isoformat()
        raw["updated_at"] = self.updated_at.isoformat()
        return json.dumps(raw, indent=1)

    @classmethod
    def from_json(cls, text: str) -> UploadMeta:
        raw = json.loads(text)
        raw["created_at"] = datetime.fromisoformat(raw["created_at"])
        raw["updated_at"] = datetime.fromisoformat(raw["updated_at"])
        return cls(**raw)


class UploadStore:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "uploads"

    @staticmethod
    def valid_id(upload_id: str) -> bool:
        # The id becomes a path component: only our own hex ids may reach the filesystem.
        return bool(_ID.match(upload_id))

    def dir(self, upload_id: str) -> Path:
        return self.root / upload_id

    def data_path(self, upload_id: str) -> Path:
        return self.dir(upload_id) / "data"

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self.valid_id(p.name))

    def create(self, meta: UploadMeta) -> None:
        directory = self.dir(meta.id)
        directory.mkdir(parents=True)
        self.data_path(meta.id).touch()
        (directory / "lock").touch()
        self.save(meta)

    def load(self, upload_id: str) -> UploadMeta | None:
        if not self.valid_id(upload_id):
            return None
        try:
            return UploadMeta.from_json((self.dir(upload_id) / "meta.json").read_text())
        except FileNotFoundError:
            return None

    def save(self, meta: UploadMeta) -> None:
        """Replace meta.json atomically and durably: readers see the old or the new, never half."""
        directory = self.dir(meta.id)
        tmp = directory / "meta.json.tmp"
        try:
            with tmp.open("w") as f:
                f.write(meta.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, directory / "meta.json")
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not leave half a record behind
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def remove(self, upload_id: str) -> None:
        shutil.rmtree(self.dir(upload_id), ignore_errors=True)

    @contextmanager
    def locked(self, upload_id: str) -> Iterator[None]:
        """Hold the upload's lock, or raise Conflict at once if another request holds it.

        flock works across threads and processes (several uvicorn workers), and the kernel
        releases it when a process dies, so a crash never leaves an upload locked.
        """
        if not self.valid_id(upload_id):
            yield  # load() refuses the id too
            return
        try:
            fd = os.open(self.dir(upload_id) / "lock", os.O_RDWR)
        except FileNotFoundError:
            yield  # no such upload (or removed meanwhile): the caller's load() says so
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(
                    f"upload {upload_id} is busy: another request is writing to it; "
                    "retry in a few seconds (GET it for the current offset)"
                ) from None
            yield
        finally:
            os.close(fd)
