"""A cgroup per image build, so that a build's RUN steps share a process limit.

The classic build API takes memory and CPU limits for its step containers, but no pids limit:
one `RUN` could fork thousands of processes on the worker's host. It does take `cgroupparent`,
the cgroup every step container's own cgroup is created in. Cgroup limits are hierarchical, so
the worker makes one cgroup per build with `pids.max` set, names it as the build's cgroup
parent, and removes it when the build is over. Nothing inside the build can lift the limit: the
step's cgroup is a child of ours and the engine never writes to ours.

This needs what `endpoint` already needs: a worker running as root on the engine's host, seeing
the engine's cgroup tree at /sys/fs/cgroup, and the engine's `cgroupfs` cgroup driver (with the
`systemd` driver a cgroup parent must be a systemd slice, which this module does not manage).
Where that is not the case `create` raises, and the build is refused rather than run unlimited.

The engine (runc) makes the parent path in every hierarchy it uses, not only in ours, and does
not remove it afterwards; `remove` deletes the build's directory in all of them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from workers.sandbox.faults import HostSetupError

log = logging.getLogger(__name__)

#: Where this process sees the engine's cgroup tree; tests point it elsewhere.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The directory, below each hierarchy's root, that holds one cgroup per running build.
PARENT = "podium-build"
#: How long `remove` waits for the engine to delete the step containers' cgroups inside ours.
_REMOVE_WAIT_S = 10.0


class BuildCgroupError(HostSetupError):
    """The worker cannot give a build its process limit; the message says why, for operators."""


@dataclass(frozen=True)
class BuildCgroup:
    """One build's cgroup: `parent` goes to the build API, `pids_dir` holds its pids limit."""

    root: Path
    leaf: str
    pids_dir: Path
    pids_limit: int

    @property
    def parent(self) -> str:
        """The `cgroupparent` to pass to the engine (a path from each hierarchy's root)."""
        return f"/{PARENT}/{self.leaf}"

    def peak(self) -> int | None:
        """Most processes the build had at once (None where the kernel does not keep it)."""
        return _read_int(self.pids_dir / "pids.peak")

    def hit_limit(self) -> bool:
        """Whether a fork in the build was refused because of `pids_limit`."""
        peak = self.peak()
        if peak is not None and peak >= self.pids_limit:
            return True
        events = _read_text(self.pids_dir / "pids.events") or ""
        for line in events.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit() and int(value) > 0:
                return True
        return False


def create(cgroup_driver: str, cgroup_version: str, pids_limit: int) -> BuildCgroup:
    """Make a fresh build cgroup limited to `pids_limit` processes. Raises BuildCgroupError.

    `cgroup_driver` and `cgroup_version` are what the engine reports (`docker info`).
    """
    if cgroup_driver != "cgroupfs":
        raise BuildCgroupError(
            f"the Docker engine uses the {cgroup_driver!r} cgroup driver; build process limits "
            "need the 'cgroupfs' driver (dockerd --exec-opt native.cgroupdriver=cgroupfs), or "
            "set PODIUM_BUILD_PIDS_LIMIT=0 to build without a process limit"
        )
    root = CGROUP_ROOT
    leaf = uuid.uuid4().hex
    if cgroup_version == "2":
        parent = root / PARENT
        pids_dir = parent / leaf
        try:
            _enable_pids(root)
            parent.mkdir(exist_ok=True)
            _enable_pids(parent)
            pids_dir.mkdir()
            (pids_dir / "pids.max").write_text(f"{pids_limit}\n")
        except OSError as exc:
            _rmdir_quietly(pids_dir)
            raise _unusable(root, exc) from exc
    else:
        pids_dir = root / "pids" / PARENT / leaf
        try:
            pids_dir.mkdir(parents=True)
            (pids_dir / "pids.max").write_text(f"{pids_limit}\n")
        except OSError as exc:
            _rmdir_quietly(pids_dir)
            raise _unusable(root, exc) from exc
    return BuildCgroup(root=root, leaf=leaf, pids_dir=pids_dir, pids_limit=pids_limit)


def remove(cgroup: BuildCgroup) -> None:
    """Delete the build's cgroup from every hierarchy; logs (never raises) if one stays."""
    deadline = time.monotonic() + _REMOVE_WAIT_S
    for directory in _build_dirs(cgroup.root, cgroup.leaf):
        while True:
            try:
                _rmdir_tree(directory)
                break
            except OSError as exc:
                # EBUSY: a step container's cgroup inside is still being torn down.
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    log.warning("cannot remove build cgroup %s: %s", directory, exc)
                    break
                time.sleep(0.1)


def exists(leaf: str) -> bool:
    """Whether the build cgroup `leaf` (the last part of a `parent`) is still there: it is
    removed when its build is over, so this tells a running build's step containers apart."""
    return bool(_build_dirs(CGROUP_ROOT, leaf))


def sweep(older_than_s: float) -> list[Path]:
    """Remove build cgroups older than `older_than_s` (left by a worker that died mid-build).

    Only empty ones go: the kernel refuses to delete a cgroup that still has processes or
    child cgroups, so a live build's cgroup is safe whatever its age.
    """
    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    for hierarchy in _hierarchies(CGROUP_ROOT):
        parent = hierarchy / PARENT
        with contextlib.suppress(OSError):
            for directory in parent.iterdir():
                if not directory.is_dir() or directory.stat().st_mtime > cutoff:
                    continue
                try:
                    directory.rmdir()
                except OSError:
                    continue
                removed.append(directory)
    return removed


def _enable_pids(directory: Path) -> None:
    control = directory / "cgroup.subtree_control"
    if "pids" not in control.read_text().split():
        control.write_text("+pids\n")


def _unusable(root: Path, exc: OSError) -> BuildCgroupError:
    return BuildCgroupError(
        f"cannot create a cgroup for the build under {root} ({exc.strerror or exc}); build "
        "process limits need a worker running as root on the Docker engine's host, with the "
        "host's cgroup tree mounted read-write, or set PODIUM_BUILD_PIDS_LIMIT=0 to build "
        "without a process limit"
    )


def _hierarchies(root: Path) -> list[Path]:
    """The cgroup v1 hierarchies mounted under `root`, or `root` itself under cgroup v2."""
    if (root / "cgroup.controllers").exists():
        return [root]
    try:
        return [d for d in root.iterdir() if d.is_dir() and not d.is_symlink()]
    except OSError:
        return []


def _build_dirs(root: Path, leaf: str) -> list[Path]:
    return [d / PARENT / leaf for d in _hierarchies(root) if (d / PARENT / leaf).is_dir()]


def _rmdir_tree(directory: Path) -> None:
    """rmdir a cgroup and any empty cgroups below it (cgroup files cannot be unlinked)."""
    for current, subdirs, _ in os.walk(directory, topdown=False):
        for sub in subdirs:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(os.path.join(current, sub))
    with contextlib.suppress(FileNotFoundError):
        directory.rmdir()


def _rmdir_quietly(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = (_read_text(path) or "").strip()
    return int(text) if text.isdigit() else None
