"""Safe extraction of uploaded archives (.tar, .tar.gz, .tgz, .zip): one entry point,
`extract_archive`, that validates and writes every member itself.

Refused, each with a message that names the entry and says what to fix: absolute paths, `..`,
symlinks that resolve outside the archive, dangle, loop or need too many hops (resolved by
Podium against the archive's own tree, never by the interpreter's tarfile filter, whose checks
some Python releases get wrong: CVE-2025-4517), members below a symlink, hard links to anything
but a regular file stored earlier, devices, FIFOs and sockets, a path that changes type,
data that does not match its header, and more entries or bytes than the limits. The whole tree
is checked in memory before the first byte is written; writing never follows a link on disk;
on any error the destination is removed whole.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from app.submissions.archive.readers import open_reader
from app.submissions.archive.tree import ArchiveError, Entry, Kind, VirtualTree, normalize
from app.submissions.archive.writer import Budget, ExtractLimits, write_tree

__all__ = [
    "ArchiveError",
    "ExtractLimits",
    "ExtractStats",
    "archive_kind",
    "copy_single_file",
    "extract_archive",
    "safe_filename",
    "unwrap_single_directory",
]


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


def extract_archive(
    path: Path, dest: Path, limits: ExtractLimits, what: str, *, min_free_bytes: int = 0
) -> ExtractStats:
    """Check the archive at `path` whole, then write it into `dest` (new or empty).

    Raises ArchiveError (422) for a bad archive and InsufficientStorage (507) when the disk
    has less than `min_free_bytes` left, or fills up, while writing; `dest` is then gone.
    """
    kind = archive_kind(path)
    if kind is None:
        raise ArchiveError(f"{what}: not a .tar, .tar.gz or .zip archive")
    if dest.is_symlink() or (dest.exists() and any(dest.iterdir())):
        raise ValueError(f"extraction target {dest} must be a new, empty directory")
    budget = Budget(limits, what)
    try:
        with open_reader(path, kind, what) as reader:
            tree = VirtualTree(what=what)
            for entry in reader.entries():
                tree.add(entry)  # first: it gives a hard link the size of its file
                budget.declare(entry)
            tree.check_links()
            write_tree(tree, reader, dest, budget, min_free_bytes)
    except BaseException:
        # `dest` was new or empty: nothing of it is worth keeping. rmtree never follows links.
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return ExtractStats(files=budget.files, bytes=budget.written)


def unwrap_single_directory(root: Path, marker: str, what: str = "context") -> Path:
    """When `marker` is not at the root but the archive holds one directory that has it, use
    that directory (archives made with `tar czf ctx.tar.gz mydir/` are common).

    Links were checked against the whole archive; the directory that becomes the root gets
    them checked again, so a `mydir/l -> ../x` cannot point outside what gets published.
    """
    if (root / marker).exists():
        return root
    entries = [e for e in root.iterdir() if e.name not in ("__MACOSX", ".DS_Store")]
    if len(entries) != 1 or entries[0].is_symlink() or not entries[0].is_dir():
        return root
    top = entries[0]
    if not (top / marker).exists():
        return root
    _check_links_on_disk(top, f"{what} (inside {top.name}/, which becomes the build context)")
    return top


def _check_links_on_disk(top: Path, what: str) -> None:
    tree = VirtualTree(what=what)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(top).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                entry = Entry(name=rel, path=normalize(rel, what), kind=Kind.SYMLINK)
                entry.target = os.readlink(full)
            elif stat.S_ISDIR(mode):
                entry = Entry(name=rel, path=normalize(rel, what), kind=Kind.DIR)
            else:
                entry = Entry(name=rel, path=normalize(rel, what), kind=Kind.FILE)
            tree.add(entry)
    tree.check_links()


def safe_filename(filename: str) -> str:
    """The last path component of an uploaded file's name, never empty, '.' or '..'."""
    name = os.path.basename(filename.replace("\\", "/"))
    return name if name not in ("", ".", "..") else "weights"


def copy_single_file(src: Path, dest_dir: Path, filename: str) -> None:
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dest_dir / safe_filename(filename))
