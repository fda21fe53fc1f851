"""The loopback proxy and the namespace socket factory, without Docker.

The proxy is exercised against plain local servers through an injected socket factory; the
namespace factory against a server in a network namespace made with `unshare`.
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from workers.sandbox.netns import NetnsSocketFactory
from workers.sandbox.proxy import TcpProxy, plain_socket_factory
from workers.sandbox.runtime import SandboxError


class _Echo(socketserver.BaseRequestHandler):
    """Echoes until the client half-closes, then appends a trailer and closes."""

    def handle(self) -> None:
        received = 0
        while data := self.request.recv(65536):
            received += len(data)
            self.request.sendall(data)
        self.request.sendall(f"END {received}".encode())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield str(host), int(port)
    server.shutdown()
    server.server_close()


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _roundtrip(address: tuple[str, int], payload: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:

        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        # Sending from another thread: the echo would fill both buffers and deadlock otherwise.
        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        sender.join()
    return b"".join(chunks)


def test_bytes_flow_both_ways_and_half_close_is_passed_on(echo_server: tuple[str, int]) -> None:
    with TcpProxy(echo_server) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        assert _roundtrip(proxy.address, b"ping") == b"pingEND 4"


def test_large_payload(echo_server: tuple[str, int]) -> None:
    payload = os.urandom(8 * 1024 * 1024)
    with TcpProxy(echo_server) as proxy:
        assert _roundtrip(proxy.address, payload) == payload + f"END {len(payload)}".encode()


def test_many_concurrent_connections(echo_server: tuple[str, int]) -> None:
    with TcpProxy(echo_server) as proxy, ThreadPoolExecutor(64) as pool:
        results = list(
            pool.map(lambda i: _roundtrip(proxy.address, f"req-{i}".encode()), range(256))
        )
    assert results == [f"req-{i}END {len(f'req-{i}')}".encode() for i in range(256)]


def _expect_reset(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert sock.recv(1024) == b""
        except ConnectionError:
            pass  # reset: what a refused connect looks like once the proxy has accepted


def test_nothing_listening_inside_resets_the_client() -> None:
    with TcpProxy(("127.0.0.1", _unused_port())) as proxy:
        _expect_reset(proxy.address)
        assert proxy.active_connections == 0


def test_a_failing_socket_factory_resets_the_client(echo_server: tuple[str, int]) -> None:
    def broken() -> socket.socket:
        raise OSError("namespace is gone")

    with TcpProxy(echo_server, broken) as proxy:
        _expect_reset(proxy.address)


def test_factory_sockets_are_the_ones_connected(echo_server: tuple[str, int]) -> None:
    made: list[socket.socket] = []

    def factory() -> socket.socket:
        made.append(plain_socket_factory())
        return made[-1]

    with TcpProxy(echo_server, factory) as proxy:
        assert _roundtrip(proxy.address, b"x") == b"xEND 1"
    assert len(made) == 1


def test_an_http_client_polling_for_readiness_retries_until_the_server_is_up() -> None:
    port = _unused_port()  # nothing listens there yet: refused inside
    with TcpProxy(("127.0.0.1", port)) as proxy, httpx.Client(base_url=proxy.url) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/")
        http_server = _http_server(port)
        try:
            assert _poll(lambda: client.get("/").status_code) == 200
        finally:
            http_server.shutdown()
            http_server.server_close()


def _http_server(port: int) -> socketserver.TCPServer:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _poll(call: Callable[[], int], timeout_s: float = 10) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_close_aborts_open_connections_and_stops_listening(echo_server: tuple[str, int]) -> None:
    proxy = TcpProxy(echo_server).start()
    address = proxy.address
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(b"hold")
    assert sock.recv(4) == b"hold"
    proxy.close()
    try:
        assert sock.recv(10) == b""
    except ConnectionError:
        pass
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()
    proxy.close()  # idempotent


def test_address_before_start_is_an_error() -> None:
    with pytest.raises(SandboxError):
        _ = TcpProxy(("127.0.0.1", 1)).address


# -- namespace socket factory ---------------------------------------------------------------


def test_factory_for_a_missing_process_is_refused() -> None:
    with pytest.raises(SandboxError, match="network namespace"):
        NetnsSocketFactory(2**22 + 12345)
    with pytest.raises(SandboxError):
        NetnsSocketFactory(0)


def test_closed_factory_refuses_new_sockets() -> None:
    if os.geteuid() != 0:
        from tests.conftest import require

        require(False, "root (setns needs it)")
    factory = NetnsSocketFactory(os.getpid())
    factory().close()
    factory.close()
    factory.close()
    with pytest.raises(SandboxError, match="closed"):
        factory()


def test_server_in_another_namespace_is_reached_only_through_the_factory(
    netns_server: int,
) -> None:
    # Same port on our own loopback: nothing there (the server lives in its own namespace).
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 8080), timeout=2).close()
    with (
        NetnsSocketFactory(netns_server) as factory,
        TcpProxy(("127.0.0.1", 8080), factory) as proxy,
        httpx.Client(base_url=proxy.url, timeout=10) as client,
    ):
        assert _poll(lambda: client.get("/conftest.py").status_code) == 200
        assert "docker_client" in client.get("/conftest.py").text
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda _: client.get("/conftest.py").status_code, range(64)))
        assert codes == [200] * 64
