"""Resumable uploads on both databases: chunks, resume, offsets, hashes, ownership, limits."""

from __future__ import annotations

import hashlib
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.kit.db import utcnow
from app.kit.errors import BadRequest, NotFound
from app.queue import RecordingQueue
from app.uploads import service
from app.uploads.store import UploadStore
from tests.app.uploads.live_server import live_server

CHUNK = "application/offset+octet-stream"
DATA = bytes(range(256)) * 4000  # 1,024,000 bytes
DATA_SHA = hashlib.sha256(DATA).hexdigest()


def _create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    payload = {"filename": "model.safetensors", "size": len(DATA), "sha256": DATA_SHA, **body}
    resp = client.post("/api/v1/uploads", headers=headers, json=payload)
    assert resp.status_code == 201, resp.text
    created: dict[str, object] = resp.json()
    return created


def _patch(
    client: TestClient, headers: dict[str, str], upload_id: object, offset: int, data: bytes
) -> httpx.Response:
    return client.patch(
        f"/api/v1/uploads/{upload_id}",
        headers={**headers, "Upload-Offset": str(offset), "Content-Type": CHUNK},
        content=data,
    )


def test_upload_in_chunks_then_complete(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    created = _create(client, team_a)
    assert created["offset"] == 0 and created["size"] == len(DATA)
    assert created["chunk_size_hint"] == service.CHUNK_SIZE_HINT
    upload_id = created["id"]

    offset = 0
    for size in (300_000, 300_000, 424_000):
        resp = _patch(client, team_a, upload_id, offset, DATA[offset : offset + size])
        assert resp.status_code == 200, resp.text
        offset += size
        assert resp.json() == {"offset": offset}
        assert resp.headers["Upload-Offset"] == str(offset)

    got = client.get(f"/api/v1/uploads/{upload_id}", headers=team_a).json()
    assert got == {
        "id": upload_id,
        "filename": "model.safetensors",
        "size": len(DATA),
        "offset": len(DATA),
        "complete": False,
        "sha256": DATA_SHA,
    }
    done = client.post(f"/api/v1/uploads/{upload_id}/complete", headers=team_a)
    assert done.status_code == 200, done.text
    assert done.json() == {"id": upload_id, "sha256": DATA_SHA, "size": len(DATA), "complete": True}
    assert client.get(f"/api/v1/uploads/{upload_id}", headers=team_a).json()["complete"] is True
    # Completing again is harmless.
    again = client.post(f"/api/v1/uploads/{upload_id}/complete", headers=team_a)
    assert again.status_code == 200

    assert (settings.data_dir / "uploads" / str(upload_id) / "data").read_bytes() == DATA


def test_hash_is_recomputed_when_the_running_state_is_lost(
    client: TestClient, team_a: dict[str, str]
) -> None:
    # As after an API restart, or when chunks went to different API processes.
    created = _create(client, team_a)
    assert _patch(client, team_a, created["id"], 0, DATA[:1000]).status_code == 200
    service._hashes.drop(str(created["id"]))
    assert _patch(client, team_a, created["id"], 1000, DATA[1000:]).status_code == 200
    done = client.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a)
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == DATA_SHA


def test_sha256_may_be_declared_at_completion(client: TestClient, team_a: dict[str, str]) -> None:
    created = _create(client, team_a, sha256=None)
    assert client.get(f"/api/v1/uploads/{created['id']}", headers=team_a).json()["sha256"] is None
    assert _patch(client, team_a, created["id"], 0, DATA).status_code == 200
    done = client.post(
        f"/api/v1/uploads/{created['id']}/complete", headers=team_a, json={"sha256": DATA_SHA}
    )
    assert done.status_code == 200, done.text


def test_wrong_offset_is_refused_with_the_current_offset(
    client: TestClient, team_a: dict[str, str]
) -> None:
    created = _create(client, team_a)
    assert _patch(client, team_a, created["id"], 0, DATA[:5000]).status_code == 200

    for wrong in (0, 4000, 9000):
        resp = _patch(client, team_a, created["id"], wrong, DATA[wrong : wrong + 100])
        assert resp.status_code == 409, resp.text
        assert resp.json()["offset"] == 5000
        assert resp.headers["Upload-Offset"] == "5000"
        assert "5000" in resp.json()["detail"]

    early = client.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a)
    assert early.status_code == 409 and early.json()["offset"] == 5000
    assert _patch(client, team_a, created["id"], 5000, DATA[5000:]).status_code == 200
    assert client.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a).is_success


def test_sha256_mismatch_discards_the_upload(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    declared = "ab" * 32
    created = _create(client, team_a, sha256=declared)
    assert _patch(client, team_a, created["id"], 0, DATA).status_code == 200
    resp = client.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a)
    assert resp.status_code == 422
    assert declared in resp.json()["detail"] and DATA_SHA in resp.json()["detail"]
    assert client.get(f"/api/v1/uploads/{created['id']}", headers=team_a).status_code == 404
    assert not (settings.data_dir / "uploads" / str(created["id"])).exists()


def test_uploads_are_private_to_their_team(
    client: TestClient,
    team_a: dict[str, str],
    team_b: dict[str, str],
    organizer: dict[str, str],
    settings: Settings,
) -> None:
    created = _create(client, team_a)
    url = f"/api/v1/uploads/{created['id']}"
    assert client.get(url, headers=team_b).status_code == 404
    assert _patch(client, team_b, created["id"], 0, DATA[:10]).status_code == 404
    assert client.post(f"{url}/complete", headers=team_b).status_code == 404
    assert client.delete(url, headers=team_b).status_code == 404
    assert client.get(url, headers=team_a).json()["offset"] == 0
    assert client.get(url, headers=organizer).status_code == 403
    assert client.get(url).status_code == 401
    # Ids that are not ours never reach the filesystem.
    assert client.get("/api/v1/uploads/..%2F..%2Fetc", headers=team_a).status_code == 404


def test_size_limit_and_bad_declarations(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    too_big = {"filename": "w.bin", "size": settings.max_weights_bytes + 1}
    resp = client.post("/api/v1/uploads", headers=team_a, json=too_big)
    assert resp.status_code == 413
    assert str(settings.max_weights_bytes) in resp.json()["detail"]

    bad_sha = {"filename": "w.bin", "size": 10, "sha256": "not-a-hash"}
    assert client.post("/api/v1/uploads", headers=team_a, json=bad_sha).status_code == 400
    for name in ("../w.bin", "a/b", "", ".."):
        bad_name = {"filename": name, "size": 10}
        assert client.post("/api/v1/uploads", headers=team_a, json=bad_name).status_code == 400
    assert client.post(
        "/api/v1/uploads", headers=team_a, json={"filename": "w", "size": 0}
    ).is_error


def test_chunk_past_the_size_is_refused(client: TestClient, team_a: dict[str, str]) -> None:
    created = _create(client, team_a, size=100, sha256=None)
    resp = _patch(client, team_a, created["id"], 0, b"x" * 101)
    assert resp.status_code == 400 and "100" in resp.json()["detail"]

    def chunked() -> object:  # no Content-Length: found out while streaming
        yield b"x" * 60
        yield b"x" * 60

    resp = client.patch(
        f"/api/v1/uploads/{created['id']}",
        headers={**team_a, "Upload-Offset": "0", "Content-Type": CHUNK},
        content=chunked(),  # type: ignore[arg-type]
    )
    assert resp.status_code == 400, resp.text
    assert client.get(f"/api/v1/uploads/{created['id']}", headers=team_a).json()["offset"] == 0
    assert _patch(client, team_a, created["id"], 0, b"x" * 100).json() == {"offset": 100}


def test_chunk_needs_raw_bytes_and_an_offset(client: TestClient, team_a: dict[str, str]) -> None:
    created = _create(client, team_a)
    url = f"/api/v1/uploads/{created['id']}"
    resp = client.patch(url, headers={**team_a, "Upload-Offset": "0"}, data={"a": "b"})
    assert resp.status_code == 415 and CHUNK in resp.json()["detail"]
    resp = client.patch(url, headers={**team_a, "Content-Type": CHUNK}, content=b"abc")
    assert resp.status_code == 422
    plain = {**team_a, "Upload-Offset": "0", "Content-Type": "application/octet-stream"}
    assert client.patch(url, headers=plain, content=b"abc").json() == {"offset": 3}


def test_delete_discards(client: TestClient, team_a: dict[str, str], settings: Settings) -> None:
    created = _create(client, team_a)
    _patch(client, team_a, created["id"], 0, DATA[:100])
    assert client.delete(f"/api/v1/uploads/{created['id']}", headers=team_a).status_code == 204
    assert client.get(f"/api/v1/uploads/{created['id']}", headers=team_a).status_code == 404
    assert not (settings.data_dir / "uploads" / str(created["id"])).exists()


def test_unfinished_uploads_per_team_are_capped(
    client: TestClient, team_a: dict[str, str], team_b: dict[str, str]
) -> None:
    for _ in range(service.MAX_OPEN_UPLOADS_PER_TEAM):
        _create(client, team_a)
    resp = client.post("/api/v1/uploads", headers=team_a, json={"filename": "w", "size": 5})
    assert resp.status_code == 409 and "DELETE" in resp.json()["detail"]
    _create(client, team_b)  # other teams are not affected


def test_claim_completed_and_forget(
    client: TestClient, team_a: dict[str, str], team_b: dict[str, str], settings: Settings
) -> None:
    created = _create(client, team_a)
    upload_id = str(created["id"])
    team_a_id = _team_id_of(settings, upload_id)
    with pytest.raises(BadRequest, match="not complete"):
        service.claim_completed(settings, team_a_id, upload_id)
    _patch(client, team_a, upload_id, 0, DATA)
    client.post(f"/api/v1/uploads/{upload_id}/complete", headers=team_a)
    with pytest.raises(NotFound):
        service.claim_completed(settings, "someone-else", upload_id)
    with pytest.raises(NotFound):
        service.claim_completed(settings, team_a_id, "f" * 32)

    claimed = service.claim_completed(settings, team_a_id, upload_id)
    assert claimed.sha256 == DATA_SHA and claimed.size == len(DATA)
    assert claimed.filename == "model.safetensors"
    assert claimed.path.read_bytes() == DATA
    service.forget(settings, upload_id)
    assert client.get(f"/api/v1/uploads/{upload_id}", headers=team_a).status_code == 404


def _team_id_of(settings: Settings, upload_id: str) -> str:
    meta = UploadStore(settings).load(upload_id)
    assert meta is not None
    return meta.team_id


def test_prune_expired(client: TestClient, team_a: dict[str, str], settings: Settings) -> None:
    unfinished = str(_create(client, team_a)["id"])
    finished = str(_create(client, team_a)["id"])
    _patch(client, team_a, finished, 0, DATA)
    client.post(f"/api/v1/uploads/{finished}/complete", headers=team_a)

    assert service.prune_expired(settings) == []
    later = utcnow() + service.INCOMPLETE_MAX_AGE + timedelta(minutes=1)
    assert service.prune_expired(settings, now=later) == [unfinished]
    much_later = utcnow() + service.COMPLETE_MAX_AGE + timedelta(minutes=1)
    assert service.prune_expired(settings, now=much_later) == [finished]
    assert UploadStore(settings).ids() == []


def test_cut_off_chunk_counts_what_arrived_and_resumes(
    settings: Settings, team_a: dict[str, str]
) -> None:
    """A client dies mid-chunk: the bytes that reached the server count; a retry completes."""
    with live_server(settings, RecordingQueue()) as url, httpx.Client(base_url=url) as http:
        created = http.post(
            "/api/v1/uploads",
            headers=team_a,
            json={"filename": "w.bin", "size": len(DATA), "sha256": DATA_SHA},
        ).json()
        sent = 300_000
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port)) as sock:
            head = (
                f"PATCH /api/v1/uploads/{created['id']} HTTP/1.1\r\n"
                f"Host: {parts.netloc}\r\n"
                f"Authorization: {team_a['Authorization']}\r\n"
                f"Content-Type: {CHUNK}\r\n"
                f"Upload-Offset: 0\r\n"
                f"Content-Length: {len(DATA)}\r\n\r\n"
            )
            sock.sendall(head.encode() + DATA[:sent])
        # The server notices the disconnect on its own time; wait for it to record the bytes.
        deadline = time.monotonic() + 10
        while True:
            offset = http.get(f"/api/v1/uploads/{created['id']}", headers=team_a).json()["offset"]
            if offset == sent or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert offset == sent

        resp = http.patch(
            f"/api/v1/uploads/{created['id']}",
            headers={**team_a, "Upload-Offset": str(offset), "Content-Type": CHUNK},
            content=DATA[offset:],
        )
        assert resp.status_code == 200, resp.text
        done = http.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a)
        assert done.status_code == 200, done.text
        assert done.json()["sha256"] == DATA_SHA


def test_stalled_chunk_ends_and_frees_the_upload(
    settings: Settings, team_a: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that goes silent mid-chunk (no FIN, no RST) does not lock the upload."""
    monkeypatch.setattr(service, "CHUNK_IDLE_TIMEOUT_S", 0.5)
    with live_server(settings, RecordingQueue()) as url, httpx.Client(base_url=url) as http:
        created = http.post(
            "/api/v1/uploads", headers=team_a, json={"filename": "w.bin", "size": len(DATA)}
        ).json()
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port)) as silent:
            head = (
                f"PATCH /api/v1/uploads/{created['id']} HTTP/1.1\r\n"
                f"Host: {parts.netloc}\r\n"
                f"Authorization: {team_a['Authorization']}\r\n"
                f"Content-Type: {CHUNK}\r\n"
                f"Upload-Offset: 0\r\n"
                f"Content-Length: {len(DATA)}\r\n\r\n"
            )
            silent.sendall(head.encode() + DATA[:1000])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                got = http.get(f"/api/v1/uploads/{created['id']}", headers=team_a).json()
                if got["offset"] == 1000:
                    break
                time.sleep(0.05)
            resp = http.patch(
                f"/api/v1/uploads/{created['id']}",
                headers={**team_a, "Upload-Offset": "1000", "Content-Type": CHUNK},
                content=DATA[1000:],
            )
            assert resp.status_code == 200, resp.text
        assert http.post(f"/api/v1/uploads/{created['id']}/complete", headers=team_a).is_success
