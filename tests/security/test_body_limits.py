"""Issue 7, item 4: an unauthenticated flood of large bodies must not grow the API's memory.

The attack, for real: a raw socket sends 200 MB to a uvicorn server running the app in its own
process (so its RSS is the API's alone), with Content-Length and chunked, to the JSON routes and
to the streaming ones. The server must answer 401 (no token) or 413 (too large) long before the
sender is done, its RSS must stay flat, and /healthz must still answer at once. Runs against
SQLite and PostgreSQL, the two shapes the API is deployed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from app.auth.models import Team
from app.auth.service import create_team
from app.kit.db import session_scope
from tests.helpers import make_tar

MB = 1024 * 1024
ATTACK_BYTES = 200 * MB
CAP = 256 * 1024  # the default of Settings.max_request_body_bytes
RSS_GROWTH_LIMIT = 50 * MB
EARLY = 32 * MB
"""An answer "before the sender is done": at most this much was sent when it came (loopback
socket buffers alone hold several MB, so some is always sent)."""
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    database_url: str
    token: str

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for the server process")

    def healthz_seconds(self) -> float:
        started = time.monotonic()
        resp = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=30)
        assert resp.status_code == 200
        return time.monotonic() - started


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    database_url: str = request.getfixturevalue(f"{request.param}_url")
    team_name = f"flood-{uuid.uuid4().hex[:10]}"
    with session_scope(database_url) as session:
        _, token = create_team(session, team_name)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PODIUM_ENVIRONMENT": "test",
        "PODIUM_DATA_DIR": str(tmp_path_factory.mktemp("flood")),
        "PODIUM_DATABASE_URL": database_url,
        "PODIUM_BROKER_URL": "memory://",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
        + ["--fd", str(sock.fileno()), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env=env,
        pass_fds=[sock.fileno()],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the API server exited at start-up"
            assert time.monotonic() < deadline, "the API server did not start"
            time.sleep(0.1)
        srv = Server(port, proc.pid, database_url, token)
        # Warm up every path the tests take, so the RSS baseline is not first-use allocations.
        headers = {"Authorization": f"Bearer {token}"}
        httpx.post(f"http://127.0.0.1:{port}/api/v1/uploads", json={"filename": "w", "size": 1})
        httpx.post(
            f"http://127.0.0.1:{port}/api/v1/uploads",
            json={"filename": "w", "size": 1},
            headers=headers,
        )
        _push(srv, _head("POST", "/api/v1/uploads", "application/json", 4 * MB, ""), 4 * MB)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
        with session_scope(database_url) as session:
            session.execute(delete(Team).where(Team.name == team_name))


@dataclass(frozen=True)
class Outcome:
    sent: int
    status: int | None
    body: bytes


def _head(method: str, path: str, ctype: str, length: int | None, token: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {ctype}"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_reply(sock: socket.socket) -> tuple[int | None, bytes]:
    sock.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
    except (ConnectionResetError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, b""
    return int(data.split()[1]), body


def _push(server: Server, head: bytes, total: int, *, chunked: bool = False) -> Outcome:
    """Send `head` then up to `total` body bytes, stopping as soon as the server answers or
    closes; returns how much was sent and the answer."""
    block = b"x" * (256 * 1024)
    frame = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(frame)
                sent += len(block)
            if chunked and sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        status, body = _read_reply(sock)
    return Outcome(sent, status, body)


ROUTES = [
    ("POST", "/api/v1/uploads", "application/json"),
    ("POST", "/api/v1/submissions/anything/cancel", "application/json"),
    ("POST", "/api/v1/submissions", "multipart/form-data; boundary=x"),
    ("PATCH", "/api/v1/uploads/anything", "application/offset+octet-stream"),
]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("method", "path", "ctype"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_anonymous_large_body_gets_401_before_it_is_read(
    server: Server, method: str, path: str, ctype: str, chunked: bool
) -> None:
    before = server.rss()
    head = _head(method, path, ctype, None if chunked else ATTACK_BYTES, "")
    outcome = _push(server, head, ATTACK_BYTES, chunked=chunked)
    assert outcome.status == 401, outcome
    assert b"missing bearer token" in outcome.body
    assert outcome.sent < EARLY, f"the server read {outcome.sent} bytes before answering"
    assert server.rss() - before < RSS_GROWTH_LIMIT
    assert server.healthz_seconds() < 2


def test_a_wrong_token_is_refused_before_the_body_too(server: Server) -> None:
    head = _head("POST", "/api/v1/uploads", "application/json", None, "pdm_not-a-token")
    outcome = _push(server, head, ATTACK_BYTES, chunked=True)
    assert outcome.status == 401 and b"unknown or revoked token" in outcome.body
    assert outcome.sent < EARLY


def test_anonymous_flood_keeps_memory_flat_and_healthz_fast(server: Server) -> None:
    before = server.rss()
    outcomes: list[Outcome] = []

    def attack(index: int) -> None:
        method, path, ctype = ROUTES[index % len(ROUTES)]
        chunked = index % 2 == 0
        head = _head(method, path, ctype, None if chunked else 64 * MB, "")
        outcomes.append(_push(server, head, 64 * MB, chunked=chunked))

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    during = server.healthz_seconds()
    for thread in threads:
        thread.join(timeout=60)
    assert [o.status for o in outcomes] == [401] * 16
    assert server.rss() - before < RSS_GROWTH_LIMIT
    assert during < 2 and server.healthz_seconds() < 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_authenticated_oversized_json_gets_413_naming_the_limit(
    server: Server, chunked: bool
) -> None:
    before = server.rss()
    head = _head(
        "POST",
        "/api/v1/uploads",
        "application/json",
        None if chunked else ATTACK_BYTES,
        server.token,
    )
    outcome = _push(server, head, ATTACK_BYTES, chunked=chunked)
    assert outcome.status == 413, outcome
    detail = json.loads(outcome.body)["detail"]
    assert "256 KiB" in detail and "/api/v1/uploads" in detail
    assert outcome.sent < EARLY
    assert server.rss() - before < RSS_GROWTH_LIMIT


def test_a_body_just_over_the_cap_is_refused_and_one_under_it_is_served(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    url = f"http://127.0.0.1:{server.port}/api/v1/uploads"
    padding = " " * (CAP + 1)
    over = httpx.post(
        url,
        content=b'{"filename": "w", "size": 1}' + padding.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert over.status_code == 413 and "256 KiB" in over.json()["detail"]
    ok = httpx.post(url, json={"filename": "w.bin", "size": 10}, headers=headers)
    assert ok.status_code == 201, ok.text


def test_streaming_routes_still_take_bodies_larger_than_the_cap(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    base = f"http://127.0.0.1:{server.port}/api/v1"
    data = os.urandom(2 * MB)
    created = httpx.post(
        f"{base}/uploads",
        json={"filename": "w.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    chunk = httpx.patch(
        f"{base}/uploads/{created.json()['id']}",
        content=data,
        headers={
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert chunk.status_code == 200 and chunk.json() == {"offset": len(data)}, chunk.text

    context = make_tar({"Dockerfile": b"FROM scratch\n", "blob": os.urandom(MB)}, gz=False)
    submitted = httpx.post(
        f"{base}/submissions",
        files={"context": ("context.tar", context, "application/x-tar")},
        headers=headers,
        timeout=60,
    )
    assert submitted.status_code != 413, submitted.text
    assert "larger than 256 KiB" not in submitted.text
