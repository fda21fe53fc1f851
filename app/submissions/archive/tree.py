"""The archive as a virtual tree, checked in memory before anything touches the disk.

Every member becomes an `Entry` with a normalized relative path. Symlinks are resolved here,
against the tree itself and the extraction root, the way the kernel would resolve them once
everything is written: component by component, following links met on the way, at most
`MAX_LINK_HOPS` of them. Nothing here asks the filesystem or the interpreter's tarfile filter,
so a chain of links longer than PATH_MAX (CVE-2025-4517 and its kin) is judged on what it
means, not on how far `os.path.realpath` gets before it gives up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from app.kit.errors import Unprocessable

MAX_LINK_HOPS = 40
"""Symlinks one lookup may follow; the Linux kernel's own limit."""

MAX_PATH_BYTES = 1024
"""Longest relative path (member name, link target) accepted. Real projects stay far below it;
attacks that depend on paths longer than the system's PATH_MAX cannot be built under it."""

MAX_NAME_BYTES = 255
"""Longest single path component: the limit of every filesystem we write to."""

Path = tuple[str, ...]


class ArchiveError(Unprocessable):
    """The archive is unusable; the message names the entry and the rule it breaks."""


class Kind(Enum):
    DIR = "directory"
    FILE = "file"
    SYMLINK = "symlink"
    HARDLINK = "hard link"


@dataclass
class Entry:
    """One member of the archive, in archive order.

    `source` is the reader's own handle for the member's data (a TarInfo or ZipInfo).
    """

    name: str
    path: Path
    kind: Kind
    size: int = 0
    executable: bool = False
    target: str = ""
    """For a symlink: its target, as stored. For a hard link: the linked file's path."""
    link_source: Path = ()
    """For a hard link: the normalized path of the regular file it shares data with."""
    source: object = None
    implicit: bool = False
    """A directory no member names, created because members live below it."""


def _bytes_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def show(path: Path) -> str:
    return "/".join(path)


def normalize(name: str, what: str, *, subject: str = "entry") -> Path:
    """The relative path a member name stands for; refuses absolute paths, `..` and overlong
    names. `subject` is how the message names the thing ("entry", "hard link 'x' target")."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(
            f"{what}: {subject} {name!r} has an absolute path; archive relative paths "
            "(tar czf ctx.tar.gz -C mydir .)"
        )
    if "\x00" in name:
        raise ArchiveError(f"{what}: {subject} {name!r} has a NUL byte in its name; rename it")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(
            f"{what}: {subject} {name!r} contains '..'; paths must stay inside the archive"
        )
    if _bytes_len(name) > MAX_PATH_BYTES:
        raise ArchiveError(
            f"{what}: {subject} {name[:80]!r}... has a path longer than {MAX_PATH_BYTES} bytes; "
            "shorten its directory names"
        )
    for part in parts:
        if _bytes_len(part) > MAX_NAME_BYTES:
            raise ArchiveError(
                f"{what}: {subject} {name[:80]!r} has a path component longer than "
                f"{MAX_NAME_BYTES} bytes; shorten it"
            )
    return tuple(parts)


@dataclass
class VirtualTree:
    """Entries by path, with the rules that keep every member a plain thing in a plain
    directory: no member below a symlink or a file, no path that changes type."""

    what: str
    nodes: dict[Path, Entry] = field(default_factory=dict)
    order: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        what = self.what
        if not entry.path:
            if entry.kind is Kind.DIR:
                return  # "./": the extraction root itself
            raise ArchiveError(f"{what}: entry {entry.name!r} has an empty name; rename it")
        for depth in range(1, len(entry.path)):
            parent = entry.path[:depth]
            node = self.nodes.get(parent)
            if node is None:
                self._put(Entry(name=show(parent), path=parent, kind=Kind.DIR, implicit=True))
            elif node.kind is Kind.SYMLINK:
                raise ArchiveError(
                    f"{what}: entry {entry.name!r} lies below {node.name!r}, which is a symlink "
                    "in this archive; store the directory itself instead of a link to it"
                )
            elif node.kind is not Kind.DIR:
                raise ArchiveError(
                    f"{what}: entry {entry.name!r} lies below {node.name!r}, which is a "
                    f"{node.kind.value} in this archive, not a directory; rename one of them"
                )
        existing = self.nodes.get(entry.path)
        if existing is not None:
            if existing.kind is Kind.DIR and entry.kind is Kind.DIR:
                existing.implicit = False
                return
            first = "directory" if existing.implicit else existing.kind.value
            raise ArchiveError(
                f"{what}: entry {entry.name!r} appears twice in the archive (first as a {first}, "
                f"then as a {entry.kind.value}); keep only one of them"
            )
        if entry.kind is Kind.HARDLINK:
            entry.link_source = self._hardlink_source(entry)
        self._put(entry)

    def _put(self, entry: Entry) -> None:
        self.nodes[entry.path] = entry
        self.order.append(entry)

    def _hardlink_source(self, entry: Entry) -> Path:
        target = normalize(entry.target, self.what, subject=f"hard link {entry.name!r} target")
        node = self.nodes.get(target)
        if node is not None and node.kind is Kind.HARDLINK:
            entry.size, entry.executable = node.size, node.executable
            return node.link_source
        if node is None or node.kind is not Kind.FILE:
            found = f"a {node.kind.value}" if node else "not stored earlier in the archive"
            for depth in range(1, len(target)):
                above = self.nodes.get(target[:depth])
                if above is not None and above.kind is Kind.SYMLINK:
                    found = f"reached through the symlink {above.name!r}"
                    break
            raise ArchiveError(
                f"{self.what}: hard link {entry.name!r} points to {entry.target!r}, which is "
                f"{found}: a hard link must name a regular file stored earlier in the archive; "
                "store the file itself instead of the link"
            )
        entry.size, entry.executable = node.size, node.executable
        return target

    def entries(self) -> Iterable[Entry]:
        return self.order

    def check_links(self) -> None:
        """Refuse every symlink that, once written, would resolve outside the root, dangle,
        loop, or need more than MAX_LINK_HOPS links."""
        resolver = _Resolver(self.nodes, self.what)
        for entry in self.order:
            if entry.kind is Kind.SYMLINK:
                resolver.resolve_link(entry)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Resolver:
    nodes: dict[Path, Entry]
    what: str
    done: dict[Path, tuple[Path, int]] = field(default_factory=dict)
    """Each symlink already resolved: where it lands and how many links that took."""
    active: set[Path] = field(default_factory=set)

    def resolve_link(self, entry: Entry) -> None:
        try:
            self._link(entry)
        except _Refused as refused:
            raise ArchiveError(
                f"{self.what}: symlink {entry.name!r} ({entry.target!r}) {refused.reason}; "
                "replace it with the file itself, or point it at a file inside the archive "
                "with a relative path"
            ) from None

    def _link(self, entry: Entry) -> tuple[Path, int]:
        cached = self.done.get(entry.path)
        if cached is not None:
            return cached
        if entry.path in self.active:
            raise _Refused("is part of a loop of symlinks")
        target = entry.target
        if not target:
            raise _Refused("has an empty target")
        if "\x00" in target:
            raise _Refused("has a NUL byte in its target")
        if target.startswith("/"):
            raise _Refused("points outside the archive (an absolute path)")
        if _bytes_len(target) > MAX_PATH_BYTES:
            raise _Refused(f"has a target longer than {MAX_PATH_BYTES} bytes")
        self.active.add(entry.path)
        try:
            where, hops = self._walk(entry.path[:-1], target)
        finally:
            self.active.discard(entry.path)
        result = (where, hops + 1)
        if result[1] > MAX_LINK_HOPS:
            raise _Refused(f"needs more than {MAX_LINK_HOPS} symlinks to resolve")
        self.done[entry.path] = result
        return result

    def _walk(self, start: Path, target: str) -> tuple[Path, int]:
        parts = list(start)
        hops = 0
        components = [c for c in target.split("/") if c not in ("", ".")]
        for index, comp in enumerate(components):
            last = index == len(components) - 1
            if comp == "..":
                if not parts:
                    raise _Refused("points outside the archive")
                parts.pop()
                continue
            parts.append(comp)
            node = self.nodes.get(tuple(parts))
            if node is None:
                raise _Refused(f"points to {show(tuple(parts))!r}, which the archive lacks")
            if node.kind is Kind.SYMLINK:
                where, used = self._link(node)
                hops += used
                if hops > MAX_LINK_HOPS:
                    raise _Refused(f"needs more than {MAX_LINK_HOPS} symlinks to resolve")
                parts = list(where)
                node = self.nodes.get(where) if where else None
            if not last and node is not None and node.kind is not Kind.DIR:
                raise _Refused(f"goes through {show(tuple(parts))!r}, which is not a directory")
        return tuple(parts), hops
