"""The request-head deadline of app/kit/http.py on a real uvicorn server and real sockets: slow
heads are cut, while requests whose head arrived in time are never cut, however slow their body
or their handler (uploads stream for minutes)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from app.kit.http import header_timeout_protocol

TIMEOUT_S = 0.5


async def _echo_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, sleeps when asked (`/slow`), answers with the body's length."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":
        await asyncio.sleep(TIMEOUT_S * 3)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _echo_length,
        log_level="warning",
        lifespan="off",
        http=header_timeout_protocol(TIMEOUT_S),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield int(sock.getsockname()[1])
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S * 8)


def _response(conn: socket.socket) -> bytes:
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


def _closed(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_head_not_complete_in_time_is_closed(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        for _ in range(int(TIMEOUT_S * 3 / 0.1)):
            try:
                conn.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        assert _closed(conn)
        assert time.monotonic() - started < TIMEOUT_S * 6


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with _connect(port) as conn:
        started = time.monotonic()
        assert _closed(conn)
        assert TIMEOUT_S * 0.8 < time.monotonic() - started < TIMEOUT_S * 6


def test_a_slow_body_after_a_timely_head_is_read_whole(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        for _ in range(10):  # 10 bytes over 2 s: four times the head deadline
            time.sleep(0.2)
            conn.sendall(b"b")
        answer = _response(conn)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n10"), answer


def test_a_slow_handler_is_not_cut_and_keep_alive_goes_on(port: int) -> None:
    with _connect(port) as conn:
        conn.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(conn).startswith(b"HTTP/1.1 200")
        # The deadline starts again at the response: a prompt second request is served.
        time.sleep(TIMEOUT_S / 4)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(conn).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert _closed(conn)  # and an idle one is closed after it
        assert time.monotonic() - started < TIMEOUT_S * 6
