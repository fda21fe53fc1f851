"""Slowloris against the API: many connections that send their request headers a byte at a time.

The API runs in its own process, started the way docker-compose starts it (`podium serve`).
Fifty connections trickle header bytes; meanwhile `/healthz` on a fresh connection must answer
within two seconds each time, and the server's memory must stay flat: the event loop serves
other clients while the slow ones wait. uvicorn (h11) alone never times out a request head;
app/kit/http.py closes a connection whose head is not complete within PODIUM_HEADER_TIMEOUT_S,
counted from when it opens and again from each response on a keep-alive connection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.kit.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
SLOW_CONNECTIONS = 50
HEADER_TIMEOUT_S = 2


@dataclass(frozen=True)
class Api:
    port: int
    pid: int

    def healthz_seconds(self) -> float:
        started = time.monotonic()
        resp = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=10)
        assert resp.status_code == 200
        return time.monotonic() - started

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("slowloris")
    url = f"sqlite:///{root / 'podium.db'}"
    upgrade(url)
    port = free_port()
    env = {
        **os.environ,
        "PODIUM_ENVIRONMENT": "test",
        "PODIUM_DATA_DIR": str(root / "data"),
        "PODIUM_DATABASE_URL": url,
        "PODIUM_BROKER_URL": "memory://",
        "PODIUM_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
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
        yield Api(port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _slow_connections(api: Api) -> list[socket.socket]:
    opened = []
    for _ in range(SLOW_CONNECTIONS):
        conn = socket.create_connection(("127.0.0.1", api.port), timeout=5)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: podium\r\n")
        opened.append(conn)
    return opened


def _trickle(conns: list[socket.socket], seconds: float, api: Api) -> list[float]:
    """Send one header byte per connection every 0.2 s; time /healthz every round."""
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for conn in conns:
            try:
                conn.sendall(b"X")
            except OSError:
                pass  # closed by the server, once past the head timeout
        answers.append(api.healthz_seconds())
        time.sleep(0.2)
    return answers


def test_slow_header_connections_do_not_starve_other_clients(api: Api) -> None:
    rss_before = api.rss_bytes()
    conns = _slow_connections(api)
    try:
        deadline = time.monotonic() + 1.0
        while api.open_fds() < SLOW_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.open_fds() >= SLOW_CONNECTIONS, "the slow connections never reached the API"
        answers = _trickle(conns, 4.0, api)
        assert max(answers) < 2.0, f"/healthz took {max(answers):.1f} s under slowloris"
        assert api.rss_bytes() - rss_before < 50 * 1024 * 1024
    finally:
        for conn in conns:
            conn.close()


def _closed_by_server(conn: socket.socket) -> bool:
    conn.settimeout(0.1)
    try:
        return conn.recv(1) == b""  # EOF: the server closed it
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slow_header_connections_are_closed_after_the_timeout(api: Api) -> None:
    conns = _slow_connections(api)
    try:
        _trickle(conns, HEADER_TIMEOUT_S + 3.0, api)
        still_open = sum(not _closed_by_server(conn) for conn in conns)
        assert still_open == 0, f"{still_open} of {SLOW_CONNECTIONS} slow connections still open"
    finally:
        for conn in conns:
            conn.close()


def _read_response(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_slow_second_request_on_a_keep_alive_connection_is_closed(api: Api) -> None:
    """The deadline starts again after each response: a client cannot finish one request
    quickly and then trickle the next one's head (uvicorn's keep-alive timer stops at its
    first byte)."""
    conn = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    try:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: podium\r\n\r\n")
        first = _read_response(conn)
        assert first.startswith(b"HTTP/1.1 200"), first
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: podium\r\n")
        _trickle([conn], HEADER_TIMEOUT_S + 3.0, api)
        assert _closed_by_server(conn), "the keep-alive connection's slow second head was held"
    finally:
        conn.close()
