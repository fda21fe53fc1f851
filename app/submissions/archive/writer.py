"""Write a checked `VirtualTree` below `dest`, never following a link on disk.

Every directory is created by us and opened with O_NOFOLLOW, one component at a time from a
descriptor of `dest`; every file is created with O_CREAT|O_EXCL|O_NOFOLLOW inside such a
directory. Symlinks are created last, when nothing else will be written, so no write can pass
through one. Budgets count the bytes actually written, not what headers declare, and free disk
is re-checked as data flows. On any error `dest` is removed whole.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from app.kit.errors import InsufficientStorage
from app.submissions.archive.readers import Reader
from app.submissions.archive.tree import ArchiveError, Entry, Kind, VirtualTree

CHUNK = 1024**2
SPACE_CHECK_EVERY = 8 * 1024**2
"""Bytes written between two looks at the free disk."""
LARGE_FILE = 1024**2
"""Files at least this large get a free-disk check before they are started."""
_OPEN_DIRS = 32
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_BAD_NAME = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}


@dataclass(frozen=True)
class ExtractLimits:
    max_bytes: int
    max_files: int


class Budget:
    """Entries and bytes, checked against the limits: declared sizes up front (a cheap early
    refusal) and written bytes while extracting (the one that cannot be lied to)."""

    def __init__(self, limits: ExtractLimits, what: str) -> None:
        self.limits, self.what = limits, what
        self.files = 0
        self.declared = 0
        self.written = 0

    def declare(self, entry: Entry) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise ArchiveError(
                f"{self.what}: more than {self.limits.max_files} entries; "
                "leave caches, checkpoints and .git out of the archive"
            )
        self.declared += max(entry.size, 0)
        if self.declared > self.limits.max_bytes:
            raise self._too_big()

    def wrote(self, size: int) -> None:
        self.written += size
        if self.written > self.limits.max_bytes:
            raise self._too_big()

    def _too_big(self) -> ArchiveError:
        return ArchiveError(
            f"{self.what}: unpacks to more than {self.limits.max_bytes} bytes; "
            "remove large files (weights go in the separate `weights` upload)"
        )


def write_tree(
    tree: VirtualTree, reader: Reader, dest: Path, budget: Budget, min_free_bytes: int
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        root = os.open(dest, _DIR_FLAGS)
        try:
            _DiskWriter(root, reader, budget, min_free_bytes).write(tree)
        finally:
            os.close(root)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


class _DiskWriter:
    def __init__(self, root: int, reader: Reader, budget: Budget, min_free_bytes: int) -> None:
        self.root, self.reader, self.budget = root, reader, budget
        self.what = budget.what
        self.min_free = min_free_bytes
        self.dirs: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self.since_check = 0

    def write(self, tree: VirtualTree) -> None:
        self._check_space(0, None)
        try:
            entries = list(tree.entries())
            for entry in entries:
                if entry.kind is not Kind.SYMLINK:
                    self._guarded(entry)
            for entry in entries:
                if entry.kind is Kind.SYMLINK:
                    self._guarded(entry)
        finally:
            for fd in self.dirs.values():
                os.close(fd)
            self.dirs.clear()

    def _guarded(self, entry: Entry) -> None:
        try:
            self._one(entry)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise _disk_full(self.what, entry.name) from exc
            if exc.errno in _BAD_NAME:
                raise ArchiveError(
                    f"{self.what}: entry {entry.name!r} cannot be written on the server "
                    f"({exc.strerror}); rename it to a short, plain name"
                ) from exc
            raise

    def _one(self, entry: Entry) -> None:
        if entry.kind is Kind.DIR:
            self._dir(entry.path)
        elif entry.kind is Kind.FILE:
            self._file(entry)
        elif entry.kind is Kind.HARDLINK:
            self._hardlink(entry)
        else:
            parent = self._dir(entry.path[:-1])
            os.symlink(entry.target, entry.path[-1], dir_fd=parent)

    def _dir(self, path: tuple[str, ...]) -> int:
        """A descriptor of directory `path`, creating what is missing, never following links."""
        if not path:
            return self.root
        cached = self.dirs.get(path)
        if cached is not None:
            self.dirs.move_to_end(path)
            return cached
        parent = self._dir(path[:-1])
        name = path[-1]
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
            created = True
        except FileExistsError:
            created = False
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        if created:
            os.fchmod(fd, 0o755)
        self.dirs[path] = fd
        while len(self.dirs) > _OPEN_DIRS:
            _, old = self.dirs.popitem(last=False)
            os.close(old)
        return fd

    def _file(self, entry: Entry) -> None:
        if entry.size >= LARGE_FILE:
            self._check_space(entry.size, entry)
        mode = 0o755 if entry.executable else 0o644
        fd = os.open(entry.path[-1], _FILE_FLAGS, mode, dir_fd=self._dir(entry.path[:-1]))
        try:
            os.fchmod(fd, mode)
            written = 0
            with self.reader.open(entry) as src:
                while chunk := src.read(CHUNK):
                    written += len(chunk)
                    if written > entry.size:
                        raise _size_lie(self.what, entry, "more")
                    self.budget.wrote(len(chunk))
                    _write_all(fd, chunk)
                    self.since_check += len(chunk)
                    if self.since_check >= SPACE_CHECK_EVERY:
                        self._check_space(entry.size - written, entry)
            if written < entry.size:
                raise _size_lie(self.what, entry, "less")
        finally:
            os.close(fd)

    def _hardlink(self, entry: Entry) -> None:
        # Both names are files this writer created; neither lookup follows a link.
        source = os.dup(self._dir(entry.link_source[:-1]))
        try:
            os.link(
                entry.link_source[-1],
                entry.path[-1],
                src_dir_fd=source,
                dst_dir_fd=self._dir(entry.path[:-1]),
                follow_symlinks=False,
            )
        finally:
            os.close(source)
        # Counted at full size: whatever copies this tree later may not keep the link.
        self.budget.wrote(entry.size)

    def _check_space(self, need: int, entry: Entry | None) -> None:
        self.since_check = 0
        vfs = os.fstatvfs(self.root)
        free = vfs.f_bavail * vfs.f_frsize
        if free - need < self.min_free:
            raise _disk_full(self.what, entry.name if entry else None)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _size_lie(what: str, entry: Entry, more_or_less: str) -> ArchiveError:
    return ArchiveError(
        f"{what}: entry {entry.name!r} holds {more_or_less} data than the {entry.size} bytes "
        "its header declares (a damaged or altered archive); create the archive again"
    )


def _disk_full(what: str, name: str | None) -> InsufficientStorage:
    where = f" while unpacking {name!r}" if name else ""
    return InsufficientStorage(
        f"{what}: the server is out of disk space{where}. This is not a fault of your "
        "submission: tell the organizers, and submit again once they have freed space"
    )
