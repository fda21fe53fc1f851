"""Tar and zip members as `Entry` objects, and their data as streams that fail with a message.

Readers only read. Whatever a damaged, truncated or lying archive does to tarfile or zipfile
(ReadError, EOFError, a bad CRC, a zlib error) becomes an ArchiveError that names the entry.
"""

from __future__ import annotations

import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from app.submissions.archive.tree import MAX_PATH_BYTES, ArchiveError, Entry, Kind, normalize

# What tarfile, gzip, bz2, lzma and zipfile raise on data that is cut short or corrupted.
# OSError is here because gzip.BadGzipFile and bz2 ("Invalid data stream") are OSErrors; the
# readers never write, so it cannot be a full disk.
DAMAGED = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)

SYMLINK_TARGET_MAX = MAX_PATH_BYTES


class Reader(Protocol):
    def entries(self) -> Iterator[Entry]: ...

    def open(self, entry: Entry) -> IO[bytes]: ...


class _Checked:
    """A member's data stream whose read errors name the member."""

    def __init__(self, stream: IO[bytes], entry: Entry, what: str) -> None:
        self._stream, self._entry, self._what = stream, entry, what

    def read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except DAMAGED as exc:
            raise damaged(self._what, self._entry.name, exc) from exc

    def close(self) -> None:
        try:
            self._stream.close()
        except DAMAGED as exc:
            raise damaged(self._what, self._entry.name, exc) from exc

    def __enter__(self) -> _Checked:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def damaged(what: str, name: str, exc: BaseException) -> ArchiveError:
    return ArchiveError(
        f"{what}: entry {name!r} is damaged or cut short: its data does not match the size or "
        f"checksum the archive records ({exc or type(exc).__name__}); create the archive again "
        "and upload it whole"
    )


def _unsupported(what: str, name: str, description: str) -> ArchiveError:
    return ArchiveError(
        f"{what}: entry {name!r} is {description}; archives may hold only regular files, "
        "directories and links inside the archive. Remove it"
    )


class TarReader:
    def __init__(self, tar: tarfile.TarFile, what: str) -> None:
        self.tar, self.what = tar, what

    def entries(self) -> Iterator[Entry]:
        last: str | None = None
        try:
            for member in self.tar:
                last = member.name
                yield self._entry(member)
        except DAMAGED as exc:
            where = f" at entry {last!r}" if last is not None else ""
            raise ArchiveError(
                f"{self.what}: the tar archive is damaged or truncated{where} "
                f"({exc or type(exc).__name__}); create it again and upload it whole"
            ) from exc

    def _entry(self, member: tarfile.TarInfo) -> Entry:
        what, name = self.what, member.name
        if member.ischr() or member.isblk():
            raise _unsupported(what, name, "a device file")
        if member.isfifo():
            raise _unsupported(what, name, "a FIFO (named pipe)")
        path = normalize(name, what)
        if member.isdir():
            return Entry(name=name, path=path, kind=Kind.DIR, source=member)
        if member.issym():
            return Entry(name=name, path=path, kind=Kind.SYMLINK, target=member.linkname)
        if member.islnk():
            return Entry(name=name, path=path, kind=Kind.HARDLINK, target=member.linkname)
        if member.isreg():
            return Entry(
                name=name,
                path=path,
                kind=Kind.FILE,
                size=member.size,
                executable=bool(member.mode & 0o111),
                source=member,
            )
        raise _unsupported(what, name, f"of tar type {member.type!r}, which Podium does not unpack")

    def open(self, entry: Entry) -> IO[bytes]:
        assert isinstance(entry.source, tarfile.TarInfo)
        try:
            stream = self.tar.extractfile(entry.source)
        except DAMAGED as exc:
            raise damaged(self.what, entry.name, exc) from exc
        assert stream is not None  # regular files always have a stream
        return _Checked(stream, entry, self.what)  # type: ignore[return-value]


class ZipReader:
    def __init__(self, zf: zipfile.ZipFile, what: str) -> None:
        self.zf, self.what = zf, what

    def entries(self) -> Iterator[Entry]:
        for info in self.zf.infolist():
            yield self._entry(info)

    def _entry(self, info: zipfile.ZipInfo) -> Entry:
        what, name = self.what, info.filename
        if info.flag_bits & 0x1:
            raise ArchiveError(
                f"{what}: entry {name!r} is encrypted; create the zip without a password"
            )
        # Only zips made on Unix (create_system 3) carry a file type in the upper mode bits.
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            raise _unsupported(what, name, "a device file")
        if mode and stat.S_ISFIFO(mode):
            raise _unsupported(what, name, "a FIFO (named pipe)")
        if mode and stat.S_ISSOCK(mode):
            raise _unsupported(what, name, "a socket")
        path = normalize(name, what)
        if info.is_dir() or stat.S_ISDIR(mode):
            return Entry(name=name, path=path, kind=Kind.DIR, source=info)
        if stat.S_ISLNK(mode):
            return Entry(name=name, path=path, kind=Kind.SYMLINK, target=self._link_target(info))
        return Entry(
            name=name,
            path=path,
            kind=Kind.FILE,
            size=info.file_size,
            executable=bool(mode & 0o111),
            source=info,
        )

    def _link_target(self, info: zipfile.ZipInfo) -> str:
        if info.file_size > SYMLINK_TARGET_MAX:
            raise ArchiveError(
                f"{self.what}: symlink {info.filename!r} has a target longer than "
                f"{SYMLINK_TARGET_MAX} bytes; replace it with the file itself"
            )
        try:
            with self.zf.open(info) as stream:
                raw = stream.read(SYMLINK_TARGET_MAX + 1)
        except DAMAGED as exc:
            raise damaged(self.what, info.filename, exc) from exc
        if len(raw) > SYMLINK_TARGET_MAX:
            raise ArchiveError(
                f"{self.what}: symlink {info.filename!r} has a target longer than "
                f"{SYMLINK_TARGET_MAX} bytes; replace it with the file itself"
            )
        return raw.decode("utf-8", "surrogateescape")

    def open(self, entry: Entry) -> IO[bytes]:
        assert isinstance(entry.source, zipfile.ZipInfo)
        try:
            stream = self.zf.open(entry.source)
        except DAMAGED as exc:
            raise damaged(self.what, entry.name, exc) from exc
        return _Checked(stream, entry, self.what)  # type: ignore[return-value]


@contextmanager
def open_reader(path: Path, kind: str, what: str) -> Iterator[Reader]:
    if kind == "tar":
        try:
            tar = tarfile.open(path, mode="r:*")
        except DAMAGED as exc:
            raise ArchiveError(
                f"{what}: the tar archive is damaged ({exc}); create it again and upload it whole"
            ) from exc
        with tar:
            yield TarReader(tar, what)
        return
    try:
        zf = zipfile.ZipFile(path)
    except DAMAGED as exc:
        raise ArchiveError(
            f"{what}: the zip archive is damaged ({exc}); create it again and upload it whole"
        ) from exc
    with zf:
        yield ZipReader(zf, what)
