"""A worker on another host unpacks what the artifacts API sends it with Podium's own extractor.

A fake artifacts server on 127.0.0.1 answers the worker's download with a hostile tar, built the
way the public proofs of concept build them: the CVE-2025-4517 symlink chain past PATH_MAX with a
hard link that overwrites a file outside the data directory (which `tarfile`'s `filter="data"`
lets through on the Python this project runs), a short chain of links to links that climbs out,
an absolute path and a device node. Each download must be refused, the canary outside must keep
its content, nothing may appear next to it, and the worker's staging and target directories must
stay empty. A well-formed tar from the same server is accepted, so "refused" means the extractor
judged the archive, not that the download broke.
"""

from __future__ import annotations

import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.config import Settings
from tests.security.test_archive_extraction import (
    CANARY,
    _file,
    _special,
    cve_2025_4517,
    short_chain_escape,
    tar_bytes,
)
from workers.artifacts import ArtifactUnavailable, ensure_context, ensure_weights

SUBMISSION = "sub_attacker"
SHA = "ab" * 32


class _ArtifactsServer:
    """Answers every GET with `self.body`, the way the API streams an artifact."""

    def __init__(self) -> None:
        self.body = b""
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _ArtifactsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def artifacts() -> Iterator[_ArtifactsServer]:
    with _ArtifactsServer() as server:
        yield server


@pytest.fixture
def worker(tmp_path: Path, artifacts: _ArtifactsServer) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "worker",
        artifacts_url=artifacts.url,
        worker_token="pdm_worker_token",
        max_context_bytes=5 * 1024 * 1024,
        max_archive_files=500,
        disk_free_floor_bytes=0,
    )


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "canary.txt"
    path.write_bytes(CANARY)
    return path


# The worker extracts into <tmp>/worker/staging/download-<32 hex>/tree: four levels below
# tmp_path, where `outside/` lives. The PoC's names are sized to that path's length.
_UPS = 4
ATTACKS = [
    "absolute_path",
    "cve_2025_4517_create",
    "cve_2025_4517_overwrite",
    "device",
    "links_to_links",
]


def _hostile(attack: str, settings: Settings) -> bytes:
    dest_len = len(str(settings.data_dir / "staging" / ("download-" + "0" * 32) / "tree"))
    return {
        "cve_2025_4517_overwrite": lambda: cve_2025_4517(_UPS, "outside", dest_len=dest_len),
        "cve_2025_4517_create": lambda: cve_2025_4517(
            _UPS, "outside", dest_len=dest_len, create=True
        ),
        "links_to_links": lambda: short_chain_escape(_UPS, "outside"),
        "absolute_path": lambda: tar_bytes(
            [_file("Dockerfile", b"FROM x\n"), _file("/tmp/abs", b"x")]
        ),
        "device": lambda: tar_bytes(
            [_file("Dockerfile", b"FROM x\n"), _special("dev", tarfile.CHRTYPE)]
        ),
    }[attack]()


def _nothing_left(settings: Settings, canary: Path) -> None:
    assert canary.read_bytes() == CANARY, "a downloaded archive overwrote a file outside"
    assert sorted(p.name for p in canary.parent.iterdir()) == ["canary.txt"]
    staging = settings.data_dir / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    for kept in ("contexts", "weights"):
        folder = settings.data_dir / kept
        assert not folder.exists() or not any(folder.iterdir()), f"{kept} kept a refused tree"


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_hostile_artifact_tar_is_refused_and_writes_nothing(
    attack: str, artifacts: _ArtifactsServer, worker: Settings, canary: Path
) -> None:
    artifacts.body = _hostile(attack, worker)
    with pytest.raises(ArtifactUnavailable, match="refused the build context"):
        ensure_context(worker, SUBMISSION)
    with pytest.raises(ArtifactUnavailable, match="refused the weights"):
        ensure_weights(worker, SHA)
    assert len(artifacts.requests) == 2, "the worker must really have downloaded the tar"
    _nothing_left(worker, canary)


def test_an_artifact_larger_than_any_upload_is_refused_while_downloading(
    artifacts: _ArtifactsServer, worker: Settings, canary: Path
) -> None:
    small = worker.model_copy(update={"max_context_bytes": 10_000, "max_archive_files": 2})
    artifacts.body = tar_bytes([_file("Dockerfile", b"FROM x\n"), _file("big", b"\0" * 200_000)])
    with pytest.raises(ArtifactUnavailable, match="larger than"):
        ensure_context(small, SUBMISSION)
    _nothing_left(small, canary)


def test_a_well_formed_artifact_tar_is_unpacked(
    artifacts: _ArtifactsServer, worker: Settings, canary: Path
) -> None:
    artifacts.body = tar_bytes(
        [_file("Dockerfile", b"FROM x\n"), _file("app/server.py", b"print(1)\n", 0o755)]
    )
    context = ensure_context(worker, SUBMISSION)
    assert context == worker.data_dir / "contexts" / SUBMISSION
    assert (context / "Dockerfile").read_bytes() == b"FROM x\n"
    assert (context / "app" / "server.py").read_bytes() == b"print(1)\n"
    assert canary.read_bytes() == CANARY
    assert not any((worker.data_dir / "staging").iterdir())
