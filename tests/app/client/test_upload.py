"""The CLI's resumable upload against a real server: broken connections, resuming, retries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.client.api import PodiumApi
from app.client.config import ClientConfig
from app.client.errors import ClientError
from app.client.upload import RetryPolicy, UploadHooks, upload_file
from tests.app.client.conftest import token_of

MIB = 1024**2


class _CutStream(httpx.SyncByteStream):
    """Sends the first `keep` bytes of a request body, then breaks, like a dropped connection."""

    def __init__(self, inner: httpx.SyncByteStream, keep: int) -> None:
        self.inner, self.keep = inner, keep

    def __iter__(self) -> Iterator[bytes]:
        for block in self.inner:
            yield block[: self.keep]
            raise httpx.WriteError("connection reset by peer (simulated)")


class FlakyTransport(httpx.BaseTransport):
    """The real transport, except that chosen requests fail."""

    def __init__(self, cut_patches: dict[int, int], refuse_gets: int = 0) -> None:
        self.inner = httpx.HTTPTransport()
        self.cut_patches = cut_patches  # PATCH number -> bytes to send before breaking
        self.refuse_gets = refuse_gets
        self.patches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.patches += 1
            if self.patches in self.cut_patches:
                assert isinstance(request.stream, httpx.SyncByteStream)
                request.stream = _CutStream(request.stream, self.cut_patches[self.patches])
        elif request.method == "GET" and "/uploads/" in request.url.path and self.refuse_gets:
            self.refuse_gets -= 1
            raise httpx.ConnectError("connection refused (simulated)")
        return self.inner.handle_request(request)


def _api(server: str, headers: dict[str, str], transport: httpx.BaseTransport) -> PodiumApi:
    config = ClientConfig(server, token_of(headers), "test", "test", Path("/nonexistent"))
    return PodiumApi(config, transport=transport)


def _file(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


class _Recorder:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.sleeps: list[float] = []
        self.progress: list[int] = []

    def hooks(self) -> UploadHooks:
        return UploadHooks(self.progress.append, self.notes.append, self.sleeps.append)


def test_broken_chunks_resume_from_the_server_offset(
    server: str, team_a: dict[str, str], tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, 3 * MIB + 123)
    transport = FlakyTransport(cut_patches={1: 300_000, 3: 10}, refuse_gets=1)
    rec = _Recorder()
    with _api(server, team_a, transport) as api:
        result = upload_file(api, path, sha256=sha, chunk_size=MIB, hooks=rec.hooks())
        assert result.sha256 == sha and result.size == path.stat().st_size
        stored = api.get_upload(result.upload_id)
    assert stored["complete"] is True and stored["sha256"] == sha
    assert any("connection lost" in note for note in rec.notes)
    assert any("refused" in note for note in rec.notes)  # the GET after the break failed once
    assert len(rec.sleeps) >= 2  # waited before retrying
    # The 300,000 bytes that made it through were kept: progress resumed there, not at 0.
    assert 300_000 in rec.progress
    assert rec.progress[-1] == path.stat().st_size


def test_a_second_run_resumes_the_first_runs_upload(
    server: str, team_a: dict[str, str], tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, 2 * MIB)
    with _api(server, team_a, httpx.HTTPTransport()) as api:
        first = api.create_upload(path.name, path.stat().st_size, sha)
        resp = api.send_chunk(first["id"], 0, 700_000, [path.read_bytes()[:700_000]])
        assert resp.json() == {"offset": 700_000}

        rec = _Recorder()
        result = upload_file(api, path, sha256=sha, hooks=rec.hooks())
        assert result.upload_id == first["id"] and result.resumed_from == 700_000
        assert any("resuming upload" in note for note in rec.notes)

        again = upload_file(api, path, sha256=sha, hooks=rec.hooks())  # complete: nothing sent
        assert again.upload_id == first["id"] and again.resumed_from == path.stat().st_size


def test_gives_up_after_too_many_failures(
    server: str, team_a: dict[str, str], tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, MIB)
    transport = FlakyTransport(cut_patches={n: 10 for n in range(1, 20)})
    rec = _Recorder()
    with _api(server, team_a, transport) as api, pytest.raises(ClientError) as caught:
        upload_file(api, path, sha256=sha, policy=RetryPolicy(max_failures=3), hooks=rec.hooks())
    assert "run the same command again" in caught.value.message
    assert len(rec.sleeps) == 3


def test_upload_refused_by_the_server_stops_at_once(
    server: str, team_a: dict[str, str], tmp_path: Path
) -> None:
    path, _ = _file(tmp_path, MIB)
    with _api(server, team_a, httpx.HTTPTransport()) as api, pytest.raises(ClientError) as caught:
        upload_file(api, path, sha256="ab" * 32)
    assert "sha256 mismatch" in caught.value.message
