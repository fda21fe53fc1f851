"""Submitting with weights sent earlier through the resumable upload API."""

from __future__ import annotations

import hashlib
import io
import tarfile

from fastapi.testclient import TestClient

from app.config import Settings
from tests.helpers import MINIMAL_DOCKERFILE, make_tar

CONTEXT = make_tar({"Dockerfile": MINIMAL_DOCKERFILE})
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def _upload(client: TestClient, headers: dict[str, str], data: bytes, name: str) -> str:
    created = client.post(
        "/api/v1/uploads", headers=headers, json={"filename": name, "size": len(data)}
    ).json()
    half = len(data) // 2
    for offset, chunk in ((0, data[:half]), (half, data[half:])):
        resp = client.patch(
            f"/api/v1/uploads/{created['id']}",
            headers={**headers, **OCTETS, "Upload-Offset": str(offset)},
            content=chunk,
        )
        assert resp.status_code == 200, resp.text
    done = client.post(
        f"/api/v1/uploads/{created['id']}/complete",
        headers=headers,
        json={"sha256": hashlib.sha256(data).hexdigest()},
    )
    assert done.status_code == 200, done.text
    return str(created["id"])


def test_single_file_upload_becomes_the_weights(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    data = b"\x01" * 100_000
    upload_id = _upload(client, team_a, data, "model.safetensors")
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", CONTEXT)},
        data={"weights_upload": upload_id},
    )
    assert resp.status_code == 201, resp.text
    sha = hashlib.sha256(data).hexdigest()
    stored = settings.data_dir / "weights" / sha / "model.safetensors"
    assert stored.read_bytes() == data
    assert client.get(f"/api/v1/uploads/{upload_id}", headers=team_a).status_code == 404


def test_archive_upload_is_extracted(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, body in {"config.json": b"{}", "model.bin": b"\x02" * 5000}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    upload_id = _upload(client, team_a, data, "weights.tar")
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", CONTEXT)},
        data={"weights_upload": upload_id},
    )
    assert resp.status_code == 201, resp.text
    root = settings.data_dir / "weights" / hashlib.sha256(data).hexdigest()
    assert (root / "config.json").read_bytes() == b"{}"
    assert (root / "model.bin").stat().st_size == 5000


def test_refused_submission_keeps_the_upload(
    client: TestClient, team_a: dict[str, str], team_b: dict[str, str]
) -> None:
    upload_id = _upload(client, team_a, b"\x03" * 1000, "w.bin")
    bad = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", make_tar({"nodockerfile": b"x"}))},
        data={"weights_upload": upload_id},
    )
    assert bad.status_code == 422
    both = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", CONTEXT), "weights": ("w.bin", b"x")},
        data={"weights_upload": upload_id},
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    # Another team cannot use it.
    stolen = client.post(
        "/api/v1/submissions",
        headers=team_b,
        files={"context": ("c.tgz", CONTEXT)},
        data={"weights_upload": upload_id},
    )
    assert stolen.status_code == 404
    still = client.get(f"/api/v1/uploads/{upload_id}", headers=team_a).json()
    assert still["complete"] is True
    ok = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", CONTEXT)},
        data={"weights_upload": upload_id},
    )
    assert ok.status_code == 201
