"""What a test session leaves behind: processes it started that outlive it, and the submission
images and containers its stacks built.

A SIGKILLed worker once left its Celery beat running (PPID 1) after every run, publishing into
Redis forever; two submission images stayed behind after every run. Both went unnoticed because
nothing looked. The session now looks, removes what it finds and fails the run (tests/conftest.py).

Processes are recognised by a marker in their environment, which every process a test starts
inherits (a fresh value per session): a process of another session on the same machine, the
lead's services (dockerd, PostgreSQL, Redis) and pytest itself are never flagged nor touched.
Submission images and containers are recognised by their `podium.submission` label naming a
submission whose build context lies under this session's temporary directory.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SESSION_MARK = "PYTEST_PODIUM_SESSION"
"""Not `PODIUM_...`: some tests pass the environment on without Podium's own settings."""

SERVICES = frozenset(
    {"dockerd", "containerd", "containerd-shim", "docker-proxy", "postgres", "redis-server"}
)
SUBMISSION_LABEL = "podium.submission"


def mark_session() -> str:
    """Give this session a fresh marker; processes started from now on inherit it."""
    value = uuid.uuid4().hex
    os.environ[SESSION_MARK] = value
    return value


@dataclass(frozen=True)
class Leak:
    pid: int
    ppid: int
    cmdline: str


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2 :].split()[:2]
    return comm, state, int(ppid)


def marked_processes(mark: str) -> list[Leak]:
    """Live processes (not zombies, not this one, not a service) carrying `mark`."""
    wanted = f"{SESSION_MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if wanted not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        stat = _stat(pid)
        if stat is None or stat[1] in ("Z", "X") or stat[0] in SERVICES:
            continue
        found.append(Leak(pid, stat[2], cmdline))
    return found


def surviving_processes(mark: str, grace_s: float = 10.0) -> list[Leak]:
    """The marked processes still alive after `grace_s` (time for ones being stopped to exit)."""
    deadline = time.monotonic() + grace_s
    while True:
        leaks = marked_processes(mark)
        if not leaks or time.monotonic() > deadline:
            return leaks
        time.sleep(0.2)


def kill(leaks: Iterable[Leak]) -> None:
    for leak in leaks:
        try:
            os.kill(leak.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def session_submission_ids(basetemp: Path) -> set[str]:
    """Ids of the submissions whose build context lies in a data directory of this session
    (`<basetemp>/<test>/<data>/contexts/<id>` or `<basetemp>/<dir>/contexts/<id>`)."""
    return {
        p.name for pattern in ("*/contexts/*", "*/*/contexts/*") for p in basetemp.glob(pattern)
    }


def remove_submission_artifacts(ids: set[str]) -> list[str]:
    """Remove the containers and images labelled with one of `ids`; returns what was removed."""
    if not ids:
        return []
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception:  # no engine: nothing can have been built
        return []
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"label": SUBMISSION_LABEL}):
            if container.labels.get(SUBMISSION_LABEL) in ids:
                removed.append(f"container {container.name} ({container.labels[SUBMISSION_LABEL]})")
                container.remove(force=True)
        for image in client.images.list(filters={"label": SUBMISSION_LABEL}):
            if image.labels.get(SUBMISSION_LABEL) in ids:
                removed.append(
                    f"image {image.short_id} {image.tags} ({image.labels[SUBMISSION_LABEL]})"
                )
                try:
                    client.images.remove(str(image.id), force=True)
                except docker.errors.ImageNotFound:
                    pass
    finally:
        client.close()
    return removed
