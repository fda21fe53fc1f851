"""Safe extraction of uploaded archives (.tar, .tar.gz, .tgz, .zip).

Refused, each with a message that says what to fix: absolute paths, `..` components, links that
point outside the archive, device files and FIFOs, more files or more bytes than the limits
(tar/zip bombs). Validation happens before anything is written; extraction writes only below
`dest`, which the caller discards on any error.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app.kit.errors import Unprocessable


class ArchiveError(Unprocessable):
    """The archive is unusable; the message names the entry and the rule it breaks."""


@dataclass(frozen=True)
class ExtractLimits:
    max_bytes: int
    max_files: int


@dataclass(frozen=True)
class ExtractStats:
    files: int
    bytes: int


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None, judged by content, not by the file name."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    try:
        # is_tarfile() alone says yes to a file of zero bytes (an empty tar); a real archive has
        # at least one member.
        with tarfile.open(path, mode="r:*") as tar:
            return "tar" if tar.next() is not None else None
    except (OSError, tarfile.TarError, EOFError):
        return None


def _safe_relpath(name: str, what: str) -> PurePosixPath:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{what}: entry {name!r} has an absolute path; archive relative paths")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise ArchiveError(f"{what}: entry {name!r} contains '..'; paths must stay inside")
    clean = PurePosixPath(*[p for p in parts if p not in (".", "")]) if parts else PurePosixPath()
    return clean


def _link_stays_inside(member_path: PurePosixPath, target: str) -> bool:
    if target.startswith("/"):
        return False
    depth = 0
    for part in (member_path.parent / target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in (".", ""):
            depth += 1
    return True


class _Budget:
    def __init__(self, limits: ExtractLimits, what: str) -> None:
        self.limits, self.what = limits, what
        self.files = 0
        self.bytes = 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += max(size, 0)
        if self.files > self.limits.max_files:
            raise ArchiveError(
                f"{self.what}: more than {self.limits.max_files} entries; "
                "leave caches, checkpoints and .git out of the archive"
            )
        if self.bytes > self.limits.max_bytes:
            raise ArchiveError(
                f"{self.what}: unpacks to more than {self.limits.max_bytes} bytes; "
                "remove large files (weights go in the separate `weights` upload)"
            )


def _check_tar(path: Path, budget: _Budget) -> None:
    what = budget.what
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                rel = _safe_relpath(member.name, what)
                if member.isdev() or member.isfifo():
                    raise ArchiveError(f"{what}: entry {member.name!r} is a device or FIFO")
                if member.issym() and not _link_stays_inside(rel, member.linkname):
                    raise ArchiveError(
                        f"{what}: symlink {member.name!r} points outside the archive "
                        f"({member.linkname!r}); replace it with the file itself"
                    )
                if member.islnk():
                    _safe_relpath(member.linkname, what)
                budget.add(member.size if member.isfile() else 0)
    except tarfile.TarError as exc:
        raise ArchiveError(f"{what}: the tar archive is damaged or truncated ({exc})") from exc
    except EOFError as exc:
        raise ArchiveError(f"{what}: the archive ends early; upload it again") from exc


def _check_zip(path: Path, budget: _Budget) -> None:
    what = budget.what
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                _safe_relpath(info.filename, what)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise ArchiveError(
                        f"{what}: {info.filename!r} is a symlink; zip archives may not hold links"
                    )
                if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
                    raise ArchiveError(f"{what}: entry {info.filename!r} is a device or FIFO")
                budget.add(info.file_size)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{what}: the zip archive is damaged ({exc})") from exc


def extract_archive(path: Path, dest: Path, limits: ExtractLimits, what: str) -> ExtractStats:
    """Validate then extract `path` into the (new, empty) directory `dest`."""
    kind = archive_kind(path)
    if kind is None:
        raise ArchiveError(f"{what}: not a .tar, .tar.gz or .zip archive")
    budget = _Budget(limits, what)
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "tar":
        _check_tar(path, budget)
        with tarfile.open(path, mode="r:*") as tar:
            # The 'data' filter re-checks everything above and also drops setuid bits and owners.
            tar.extractall(dest, filter="data")
    else:
        _check_zip(path, budget)
        with zipfile.ZipFile(path) as zf:
            zf.extractall(dest)
    return ExtractStats(files=budget.files, bytes=budget.bytes)


def unwrap_single_directory(root: Path, marker: str) -> Path:
    """When `marker` is not at the root but the archive holds one directory that has it, use
    that directory (archives made with `tar czf ctx.tar.gz mydir/` are common)."""
    if (root / marker).exists():
        return root
    entries = [e for e in root.iterdir() if e.name not in ("__MACOSX", ".DS_Store")]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / marker).exists():
        return entries[0]
    return root


def safe_filename(filename: str) -> str:
    """The last path component of an uploaded file's name, never empty, '.' or '..'."""
    name = os.path.basename(filename.replace("\\", "/"))
    return name if name not in ("", ".", "..") else "weights"


def copy_single_file(src: Path, dest_dir: Path, filename: str) -> None:
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dest_dir / safe_filename(filename))
