"""Issue 7, item 8: disk is accounted for. Every test performs the attack for real, over HTTP
through the app, on SQLite and on PostgreSQL.

- Two resumable uploads that together exceed the free space: the second gets 507, because the
  first one's size was reserved when it was created (before the fix both were accepted).
- Per-team storage quota: uploads (finished or not) and stored submissions count; weights a
  team's submissions share count once; past the quota a 413 says how to free space.
- A gzip bomb of weights is refused without filling the disk.
- A disk that fills up during a chunk PATCH: 507, and the offset stays at the last byte that
  made it to disk (nothing half-written past it); the upload resumes once there is room.
- A multipart submission on a full disk: 507, its staging directory is gone.
- A process killed during a multipart upload leaves staging behind: the next API start removes
  it (a live process's staging stays).

The disk-full cases run on a small tmpfs mounted for the test (root is needed; removed after),
so free space is exact and no other process on the machine can change it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions.models import Submission
from app.submissions.storage import Storage
from app.uploads.store import UploadStore
from tests.conftest import SCENARIO_DATA, require
from tests.helpers import MINIMAL_DOCKERFILE, make_tar

MiB = 1024 * 1024
CHUNK = "application/offset+octet-stream"
CONTEXT = make_tar({"Dockerfile": MINIMAL_DOCKERFILE, "server.py": b"print('hi')\n"})
REPO = Path(__file__).resolve().parents[2]


def _settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "broker_url": "memory://",
        "scenario_data": SCENARIO_DATA,
        "max_context_bytes": 5 * MiB,
        "max_upload_bytes": 1024 * MiB,
        "max_archive_files": 200,
        "disk_free_floor_bytes": 0,
    }
    values.update(overrides)
    return Settings(**values)


def _team(settings: Settings, name: str) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        _, token = create_team(session, f"{name}-{uuid.uuid4().hex[:6]}")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """mount(size_bytes) -> a fresh tmpfs of that size; all unmounted and removed afterwards."""
    require(os.geteuid() == 0 and shutil.which("mount") is not None, "root to mount a tmpfs")
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
            check=True,
        )
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, RecordingQueue()))


def _create(client: TestClient, team: dict[str, str], size: int) -> Any:
    return client.post(
        "/api/v1/uploads", headers=team, json={"filename": "model.safetensors", "size": size}
    )


def _patch(
    client: TestClient, team: dict[str, str], upload_id: str, offset: int, content: Any
) -> Any:
    return client.patch(
        f"/api/v1/uploads/{upload_id}",
        headers={**team, "Upload-Offset": str(offset), "Content-Type": CHUNK},
        content=content,
    )


def _pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (sent chunked): the server learns its size only by reading."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _leftovers(settings: Settings) -> list[Path]:
    roots = [settings.data_dir / d for d in ("staging", "contexts", "weights")]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


# -- reservation ------------------------------------------------------------------------------


def test_uploads_reserve_their_size_so_the_second_one_gets_507(
    database_url: str, tmpfs: Callable[[int], Path]
) -> None:
    settings = _settings(database_url, tmpfs(64 * MiB), disk_free_floor_bytes=8 * MiB)
    with _client(settings) as client:
        team = _team(settings, "alpha")
        first = _create(client, team, 40 * MiB)
        assert first.status_code == 201, first.text
        # 64 MiB free, 40 reserved, 8 kept: 40 more do not fit, though they are below "free".
        second = _create(client, team, 40 * MiB)
        assert second.status_code == 507, second.text
        detail = second.json()["detail"]
        assert "40.0 MB reserved by uploads in progress" in detail
        assert "needs 40.0 MB" in detail and "try again later" in detail

        # Bytes that arrive move from "reserved" to "used": still no room for the second.
        upload_id = first.json()["id"]
        assert _patch(client, team, upload_id, 0, b"\x01" * (10 * MiB)).status_code == 200
        assert _create(client, team, 40 * MiB).status_code == 507

        # A multipart submission is checked against the same reservation before its body.
        resp = client.post(
            "/api/v1/submissions",
            headers=team,
            files={"context": ("c.tgz", CONTEXT), "weights": ("w.bin", b"\x02" * (30 * MiB))},
        )
        assert resp.status_code == 507, resp.text
        assert "reserved by uploads in progress" in resp.json()["detail"]
        assert _leftovers(settings) == []

        # Giving the first upload up frees its reservation.
        assert client.delete(f"/api/v1/uploads/{upload_id}", headers=team).status_code == 204
        assert _create(client, team, 40 * MiB).status_code == 201


# -- per-team quota ---------------------------------------------------------------------------


def test_team_quota_counts_uploads_and_stored_submissions(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path / "data", team_storage_quota_bytes=3 * MiB)
    with _client(settings) as client:
        alpha, beta = _team(settings, "alpha"), _team(settings, "beta")
        first = _create(client, alpha, 2 * MiB)
        assert first.status_code == 201, first.text
        over = _create(client, alpha, 2 * MiB)
        assert over.status_code == 413, over.text
        detail = over.json()["detail"]
        assert "storage quota is 3.0 MB" in detail and "already uses 2.0 MB" in detail
        assert "DELETE /api/v1/uploads/" in detail
        # The quota is per team.
        assert _create(client, beta, 2 * MiB).status_code == 201

        assert client.delete(f"/api/v1/uploads/{first.json()['id']}", headers=alpha).status_code
        weights = os.urandom(2 * MiB)
        for _ in range(2):  # the same weights twice: stored once, counted once
            resp = client.post(
                "/api/v1/submissions",
                headers=alpha,
                files={"context": ("c.tgz", CONTEXT), "weights": ("w.bin", weights)},
            )
            assert resp.status_code == 201, resp.text
        with session_scope(settings.database_url) as session:
            rows = session.scalars(
                select(Submission).where(Submission.weights_sha256.is_not(None))
            ).all()
            assert [r.weights_bytes for r in rows] == [2 * MiB, 2 * MiB]
            assert all(r.context_bytes and r.context_bytes > 0 for r in rows)

        other = client.post(
            "/api/v1/submissions",
            headers=alpha,
            files={"context": ("c.tgz", CONTEXT), "weights": ("w.bin", os.urandom(2 * MiB))},
        )
        assert other.status_code == 413, other.text
        assert "storage quota" in other.json()["detail"]
        # Stored submissions count toward uploads too.
        assert _create(client, alpha, 2 * MiB).status_code == 413
        assert not [p for p in _leftovers(settings) if "staging" in p.parts]


# -- gzip bomb --------------------------------------------------------------------------------


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def _gzip_bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("model.safetensors")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return buf.getvalue()


@contextmanager
def _peak_usage(path: Path) -> Iterator[list[int]]:
    """[highest bytes used on the filesystem of `path`], sampled while the block runs."""
    peak = [shutil.disk_usage(path).used]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], shutil.disk_usage(path).used)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def test_gzip_bomb_of_weights_is_refused_without_filling_the_disk(
    database_url: str, tmpfs: Callable[[int], Path]
) -> None:
    bomb = _gzip_bomb(1024 * MiB)
    assert len(bomb) < 8 * MiB
    data_dir = tmpfs(64 * MiB)
    settings = _settings(database_url, data_dir, disk_free_floor_bytes=4 * MiB)
    with _client(settings) as client:
        team = _team(settings, "alpha")
        with _peak_usage(data_dir) as peak:
            resp = client.post(
                "/api/v1/submissions",
                headers=team,
                files={"context": ("c.tgz", CONTEXT), "weights": ("w.tgz", bomb)},
            )
        assert resp.status_code == 507, resp.text
        assert "out of disk space" in resp.json()["detail"]
        # Refused before the disk filled up, not by the disk filling up (ENOSPC also gives 507).
        assert peak[0] < 32 * MiB, f"the bomb filled {peak[0]} bytes of the disk"
        assert _leftovers(settings) == []
        assert shutil.disk_usage(data_dir).used < 2 * MiB

        # The same bomb as a resumable upload: refused too, and the upload stays for a retry.
        created = client.post(
            "/api/v1/uploads", headers=team, json={"filename": "w.tgz", "size": len(bomb)}
        ).json()
        assert _patch(client, team, created["id"], 0, bomb).status_code == 200
        done = client.post(f"/api/v1/uploads/{created['id']}/complete", headers=team)
        assert done.status_code == 200, done.text
        resp = client.post(
            "/api/v1/submissions",
            headers=team,
            files={"context": ("c.tgz", CONTEXT)},
            data={"weights_upload": created["id"]},
        )
        assert resp.status_code == 507, resp.text
        assert _leftovers(settings) == []
        assert client.get(f"/api/v1/uploads/{created['id']}", headers=team).status_code == 200

    # With a weights budget below the free space, the budget refuses it (422) first.
    small = _settings(database_url, data_dir, max_weights_bytes=16 * MiB)
    with _client(small) as client:
        resp = client.post(
            "/api/v1/submissions",
            headers=_team(small, "beta"),
            files={"context": ("c.tgz", CONTEXT), "weights": ("w.tgz", bomb)},
        )
        assert resp.status_code == 422, resp.text
        assert _leftovers(small) == []


# -- a disk that fills up -----------------------------------------------------------------------


def test_disk_full_during_a_chunk_gives_507_and_keeps_the_last_good_offset(
    database_url: str, tmpfs: Callable[[int], Path]
) -> None:
    data_dir = tmpfs(8 * MiB)
    settings = _settings(database_url, data_dir)
    data = os.urandom(6 * MiB)
    with _client(settings) as client:
        team = _team(settings, "alpha")
        created = _create(client, team, len(data))
        assert created.status_code == 201, created.text
        upload_id = created.json()["id"]
        # Something else takes the space this upload was promised.
        filler = data_dir / "filler"
        filler.write_bytes(b"\x00" * (4 * MiB))

        assert _patch(client, team, upload_id, 0, data[:MiB]).status_code == 200
        # With a Content-Length that does not fit: refused before a byte is written.
        early = _patch(client, team, upload_id, MiB, data[MiB:])
        assert early.status_code == 507, early.text
        assert early.json()["offset"] == MiB
        # Without one, the disk fills up mid-chunk.
        full = _patch(client, team, upload_id, MiB, _pieces(data[MiB:]))
        assert full.status_code == 507, full.text
        body = full.json()
        assert "disk filled up" in body["detail"] and "resume from offset" in body["detail"]
        offset = body["offset"]
        assert MiB < offset < len(data)
        assert full.headers["Upload-Offset"] == str(offset)

        got = client.get(f"/api/v1/uploads/{upload_id}", headers=team).json()
        assert got["offset"] == offset
        stored = UploadStore(settings).data_path(upload_id).read_bytes()
        assert stored == data[:offset]  # nothing half-written past the offset
        assert not (UploadStore(settings).dir(upload_id) / "meta.json.tmp").exists()

        filler.unlink()
        assert _patch(client, team, upload_id, offset, data[offset:]).status_code == 200
        done = client.post(
            f"/api/v1/uploads/{upload_id}/complete",
            headers=team,
            json={"sha256": hashlib.sha256(data).hexdigest()},
        )
        assert done.status_code == 200, done.text


def _multipart(fields: dict[str, tuple[str, bytes]], boundary: str) -> bytes:
    out = bytearray()
    for name, (filename, content) in fields.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def test_multipart_submission_on_a_full_disk_gets_507_and_leaves_no_staging(
    database_url: str, tmpfs: Callable[[int], Path]
) -> None:
    settings = _settings(database_url, tmpfs(8 * MiB))
    boundary = uuid.uuid4().hex
    body = _multipart(
        {"context": ("c.tgz", CONTEXT), "weights": ("w.bin", os.urandom(12 * MiB))}, boundary
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    with _client(settings) as client:
        team = _team(settings, "alpha")
        declared = client.post("/api/v1/submissions", headers={**team, **headers}, content=body)
        assert declared.status_code == 507, declared.text
        assert _leftovers(settings) == []
        streamed = client.post(
            "/api/v1/submissions", headers={**team, **headers}, content=_pieces(body)
        )
        assert streamed.status_code == 507, streamed.text
        assert "disk filled up" in streamed.json()["detail"]
        assert _leftovers(settings) == []
        assert shutil.disk_usage(settings.data_dir).used < 2 * MiB


# -- staging left by a killed process ------------------------------------------------------------

_CHILD = """
import sys, time
from pathlib import Path
from app.submissions.storage import Storage
with Storage(Path(sys.argv[1])).staging() as staging:
    (staging / "upload-weights").write_bytes(b"\\0" * (5 * 1024 * 1024))
    print(staging, flush=True)
    time.sleep(600)
"""


def test_staging_of_a_killed_upload_is_removed_at_startup(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path / "data")
    data_dir = settings.data_dir
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        killed = Path(child.stdout.readline().strip())
        assert (killed / "upload-weights").is_file()
    finally:
        child.kill()
        child.wait(timeout=10)
    assert killed.is_dir()  # SIGKILL ran no clean-up

    storage = Storage(data_dir)
    old_legacy = storage.staging_root / uuid.uuid4().hex  # named by an older Podium
    old_legacy.mkdir()
    (old_legacy / "upload-context").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old_legacy / "upload-context", (two_hours_ago, two_hours_ago))
    os.utime(old_legacy, (two_hours_ago, two_hours_ago))
    fresh_legacy = storage.staging_root / uuid.uuid4().hex
    fresh_legacy.mkdir()

    # A resumable upload abandoned for longer than its expiry goes too.
    store = UploadStore(settings)
    with _client(settings) as client:
        team = _team(settings, "alpha")
        upload_id = _create(client, team, 1000).json()["id"]
    meta = store.load(upload_id)
    assert meta is not None
    meta.updated_at = utcnow() - timedelta(days=3)
    store.save(meta)

    with storage.staging() as live:  # this process is alive: its upload must survive
        with _client(settings) as client:
            assert client.get("/healthz").status_code == 200
        assert live.is_dir()
    assert not killed.exists()
    assert not old_legacy.exists()
    assert fresh_legacy.exists()
    assert store.load(upload_id) is None
    # The dead owner's lock file went with its staging.
    owners = {p.stem for p in storage.owners_root.glob("*.lock")}
    assert killed.name.split("-", 1)[0] not in owners
