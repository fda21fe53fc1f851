"""The real app served by uvicorn on 127.0.0.1 in a background thread, for tests that need real
sockets (a connection cut mid-body, a CLI talking HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from app.config import Settings
from app.kit.http import header_timeout_protocol
from app.main import create_app
from app.queue import TaskQueue


@contextmanager
def live_server(settings: Settings, queue: TaskQueue) -> Iterator[str]:
    """Yields the base URL; the server stops when the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The protocol `podium serve` and `podium up` use, so tests see the request-head timeout.
    config = uvicorn.Config(
        create_app(settings, queue),
        log_level="warning",
        lifespan="off",
        http=header_timeout_protocol(settings.header_timeout_s),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
