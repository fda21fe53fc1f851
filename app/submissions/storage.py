"""Where uploads live on disk, under the data directory.

    <data>/staging/<owner>-<random>/     an upload process <owner> is receiving; removed
                                         whatever happens, or by `sweep_staging` once the
                                         owner is gone
    <data>/staging.owners/<owner>.lock   flock'ed for as long as process <owner> lives
    <data>/contexts/<id>/                a submission's extracted build context
    <data>/weights/<sha256>/             weights, content-addressed (identical uploads stored once)

Everything is first written into staging and then renamed into place, so a failure never leaves
a half-written context or weights directory behind. A process killed mid-upload cannot run its
clean-up, so each staging directory names the process that owns it, and that process holds a
lock the kernel drops when it dies: at start-up an API process removes the staging of every
owner whose lock is free. That works with several API processes (or containers) sharing one
data directory, where "remove everything at start-up" would delete a neighbour's live upload.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UNOWNED_MAX_AGE_S = 3600.0
"""Staging entries that name no owner (written by an older Podium, or a worker's download) are
removed once nothing in them changed for this long; an upload in progress writes into its entry
all the time, so an hour of silence means nobody is left to finish it."""

_OWNER = re.compile(r"^[0-9a-f]{32}$")

_owners: dict[Path, tuple[int, int, str]] = {}
"""owners root -> (pid, lock fd, owner name) of this process; a forked child makes its own."""
_owners_lock = threading.Lock()


def _owner_name(owners_root: Path) -> str:
    """This process's owner name for the staging beside `owners_root`, its lock taken on first
    use."""
    with _owners_lock:
        held = _owners.get(owners_root)
        if held is not None and held[0] == os.getpid():
            return held[2]
        owners_root.mkdir(parents=True, exist_ok=True)
        while True:
            name = uuid.uuid4().hex
            lock_path = owners_root / f"{name}.lock"
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A sweeper that found the file before our flock may have unlinked it meanwhile:
            # then this lock guards nothing, take another name.
            try:
                if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        _owners[owners_root] = (os.getpid(), fd, name)
        return name


def _held_by_nobody(lock_path: Path) -> int | None:
    """None while the owner lives; else an fd holding its lock (-1 when the lock file is gone),
    for the caller to close once the owner's entries are removed."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


class Storage:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.staging_root = data_dir / "staging"
        self.owners_root = data_dir / "staging.owners"
        self.contexts_root = data_dir / "contexts"
        self.weights_root = data_dir / "weights"

    def context_dir(self, submission_id: str) -> Path:
        return self.contexts_root / submission_id

    def weights_dir(self, sha256: str) -> Path:
        return self.weights_root / sha256

    @contextmanager
    def staging(self) -> Iterator[Path]:
        owner = _owner_name(self.owners_root)
        path = self.staging_root / f"{owner}-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def sweep_staging(self, *, now: float | None = None) -> list[Path]:
        """Remove staging left by processes that died (see the module docstring); returns what
        was removed. Live owners' entries, this process's included, are kept."""
        now = time.time() if now is None else now
        removed: list[Path] = []
        entries = sorted(self.staging_root.iterdir()) if self.staging_root.is_dir() else []
        locks = sorted(self.owners_root.glob("*.lock")) if self.owners_root.is_dir() else []
        dead: dict[str, int] = {}  # owner -> fd holding its lock while its entries go
        alive: set[str] = set()
        try:
            for entry in entries:
                owner = entry.name.split("-", 1)[0] if "-" in entry.name else ""
                if _OWNER.match(owner):
                    if owner not in dead and owner not in alive:
                        # An owner takes its lock before it creates any entry: a missing or
                        # free lock means the owner is gone.
                        fd = _held_by_nobody(self.owners_root / f"{owner}.lock")
                        if fd is None:
                            alive.add(owner)
                        else:
                            dead[owner] = fd
                    if owner in alive:
                        continue
                elif now - _newest_mtime(entry) < UNOWNED_MAX_AGE_S:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
            for lock in locks:
                if lock.stem in alive:
                    continue
                fd = dead.pop(lock.stem, None)
                if fd is None:
                    fd = _held_by_nobody(lock)
                if fd is not None:
                    lock.unlink(missing_ok=True)  # while holding it: no new owner can use it
                    if fd >= 0:
                        os.close(fd)
        finally:
            for fd in dead.values():
                if fd >= 0:
                    os.close(fd)
        return removed

    def publish_context(self, staged: Path, submission_id: str) -> Path:
        target = self.context_dir(submission_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return target

    def publish_weights(self, staged: Path, sha256: str) -> Path:
        target = self.weights_dir(sha256)
        if target.exists():
            return target  # same content already stored
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staged, target)
        except OSError:
            if not target.exists():  # lost a race with an identical upload: that is fine
                raise
        return target

    def discard_context(self, submission_id: str) -> None:
        shutil.rmtree(self.context_dir(submission_id), ignore_errors=True)
