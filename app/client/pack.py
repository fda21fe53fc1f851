"""Packing a submission on the team's machine: the build context and a weights directory.

The build context honours `.dockerignore` the way `docker build` does in the common cases
(`*`, `?`, `**`, `[...]`, `!` exceptions, the last matching line wins, a matching directory
excludes everything below it); `.git` is never sent. Both archives are deterministic (sorted
entries, no owner names), so packing the same directory twice gives the same bytes: the same
sha256, which lets a second run find and resume the first run's upload.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from app.client.errors import ClientError

ALWAYS_SKIPPED = {".git"}
COPY_BUFFER = 4 * 1024**2
SPARE_BYTES = 64 * 1024**2
"""Free space kept beyond the packed weights' size (tar headers, other programs)."""


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    exclude: bool


def _translate(pattern: str) -> str:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def read_dockerignore(directory: Path) -> list[_Rule]:
    path = directory / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip()
        cleaned = os.path.normpath(pattern).replace(os.sep, "/").lstrip("/")
        if cleaned in ("", "."):
            continue
        rules.append(_Rule(re.compile(_translate(cleaned)), exclude))
    return rules


def is_ignored(relpath: str, rules: list[_Rule]) -> bool:
    """Whether `relpath` (posix, relative to the context) is left out; the last match wins."""
    parts = PurePosixPath(relpath).parts
    if any(part in ALWAYS_SKIPPED for part in parts):
        return True
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        # A pattern that matches a parent directory matches everything below it.
        if any(rule.regex.fullmatch(prefix) for prefix in prefixes):
            ignored = rule.exclude
    return ignored


def _normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _walk(
    directory: Path, *, follow_links: bool, skip_dir: Callable[[str], bool]
) -> Iterator[tuple[Path, str]]:
    """Every path below `directory` with its posix relative name, sorted, each directory before
    what it holds; directories for which `skip_dir` says yes are not entered (nor yielded)."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        if follow_links:
            real = os.path.realpath(root)
            if real in seen:  # a link loop
                dirs[:] = []
                continue
            seen.add(real)
        base = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not skip_dir((base / d).relative_to(directory).as_posix())
        )
        for name in [*dirs, *sorted(files)]:
            path = base / name
            yield path, path.relative_to(directory).as_posix()


def _is_vcs_dir(rel: str) -> bool:
    return PurePosixPath(rel).name in ALWAYS_SKIPPED


@dataclass(frozen=True)
class Packed:
    path: Path
    files: int
    bytes: int


def pack_context(directory: Path, dest: Path, dockerfile: str = "Dockerfile") -> Packed:
    """`directory` as a deterministic .tar.gz at `dest`, without what .dockerignore excludes."""
    if not directory.is_dir():
        raise ClientError(f"{directory} is not a directory; pass the folder with your Dockerfile")
    if not (directory / dockerfile).is_file():
        raise ClientError(
            f"no {dockerfile} in {directory}: a build context needs a Dockerfile at its root "
            "(see examples/submissions/transformers/), or name another one with --dockerfile"
        )
    rules = read_dockerignore(directory)
    reincludes = any(not rule.exclude for rule in rules)

    def skip_dir(rel: str) -> bool:
        # An excluded directory is not even read, unless a `!` line could bring back a file in it.
        return PurePosixPath(rel).name in ALWAYS_SKIPPED or (
            not reincludes and is_ignored(rel, rules)
        )

    kept_always = {PurePosixPath(dockerfile).as_posix(), ".dockerignore"}
    files = total = 0
    with (
        dest.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, rel in _walk(directory, follow_links=False, skip_dir=skip_dir):
            # docker build always sends the Dockerfile and .dockerignore, even when ignored.
            if rel not in kept_always and is_ignored(rel, rules):
                continue
            info = _normalized(tar.gettarinfo(str(path), arcname=rel))
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
                files += 1
                total += info.size
            elif info.isdir() or info.issym():
                tar.addfile(info)
            # Devices, sockets and FIFOs have no place in a build context: left out.
    return Packed(dest, files, total)


def pack_weights_dir(
    directory: Path, dest: Path, progress: Callable[[int], None] | None = None
) -> Packed:
    """`directory` as an uncompressed deterministic .tar at `dest`, symbolic links resolved.

    Not gzipped: weights (fp16/bf16 safetensors) barely compress, and gzip at ~50 MB/s would be
    the slowest step of the whole upload. Links are followed because a Hugging Face cache
    snapshot is a directory of links into a blob store; the server refuses links leaving it.
    """
    if not any(directory.iterdir()):
        raise ClientError(f"the weights directory {directory} is empty")
    needed = sum(
        path.stat().st_size
        for path, _ in _walk(directory, follow_links=True, skip_dir=_is_vcs_dir)
        if path.is_file()
    )
    free = shutil.disk_usage(dest.parent).free
    if free < needed + SPARE_BYTES:
        raise ClientError(
            f"packing {directory} needs {needed:,} bytes in {dest.parent}, which has {free:,} "
            "free; point TMPDIR at a larger disk, or pass --weights a ready .tar of the folder"
        )
    files = total = 0
    # copybufsize is accepted by tarfile.open (it reaches TarFile) but missing from the stubs.
    open_tar: Any = tarfile.open
    with open_tar(dest, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BUFFER) as tar:
        for path, rel in _walk(directory, follow_links=True, skip_dir=_is_vcs_dir):
            try:
                info = _normalized(tar.gettarinfo(str(path.resolve()), arcname=rel))
            except FileNotFoundError as exc:
                raise ClientError(f"{path} is a link to nothing ({exc.filename})") from exc
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
                files += 1
                total += info.size
                if progress is not None:
                    progress(total)
            elif info.isdir():
                tar.addfile(info)
    if files == 0:
        raise ClientError(f"the weights directory {directory} holds no files")
    return Packed(dest, files, total)
