"""A loopback TCP proxy whose upstream sockets come from a factory.

The container's server is reachable only by sockets created inside its network namespace
(see `netns.py`), while HTTP clients open their own sockets. The proxy bridges the two: it
listens on 127.0.0.1 in the worker's namespace and, for each accepted connection, takes a fresh
socket from the factory, connects it to the target and pumps bytes both ways.

One asyncio loop in one background thread serves every connection: the evaluator opens 16-64 at
once, and a thread pair per connection would be wasteful for what is mostly waiting on a model.
Bytes are forwarded by protocol callbacks (no stream objects, no task per read), with the usual
flow control: when one side's write buffer fills up, reading from the other side pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future

from workers.sandbox.runtime import SandboxError

#: Returns a new, unconnected TCP socket; the namespace it was created in decides what
#: `127.0.0.1` means when the proxy connects it.
SocketFactory = Callable[[], socket.socket]


def plain_socket_factory() -> socket.socket:
    """Sockets in this process's own namespace (tests, or a target reachable from here)."""
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP RST rather than a FIN.

    When the server inside is not listening yet, the client should see what a refused connect
    looks like as closely as possible once the proxy already accepted: a reset, which HTTP
    clients report as a transport error and a readiness poll retries.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert isinstance(transport, asyncio.Transport)
    transport.abort()


class _Side(asyncio.Protocol):
    """One end of a proxied connection: forwards what it receives to the other end."""

    def __init__(self, pipe: _Pipe, on_connected: Callable[[], None] | None = None) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False
        self._on_connected = on_connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self._on_connected is not None:
            self._on_connected()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        # Pass the half-close on: HTTP clients may shut down writing and still read a reply.
        self.eof = True
        peer = self.peer.transport if self.peer is not None else None
        if peer is not None and peer.can_write_eof():
            peer.write_eof()
        if self.peer is not None and self.peer.eof:
            self.pipe.close()
        return True  # keep the transport open for the other direction

    def pause_writing(self) -> None:
        # Our outgoing buffer is full: stop reading from the peer until it drains.
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.pipe.abort()
        else:
            self.pipe.close()


class _Pipe:
    """A client connection and its upstream connection, closed together."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = _Side(self, on_connected=lambda: proxy._on_client(self))
        self.upstream = _Side(self)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    def _transports(self) -> list[asyncio.Transport]:
        return [t for t in (self.client.transport, self.upstream.transport) if t is not None]

    def close(self) -> None:
        """Clean end: buffered bytes are still flushed before each socket closes."""
        if not self.closed:
            self.closed = True
            for transport in self._transports():
                transport.close()
            self.proxy._forget(self)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            if self.connecting is not None:
                self.connecting.cancel()
            for transport in self._transports():
                transport.abort()
            self.proxy._forget(self)


class TcpProxy:
    """Forwards `127.0.0.1:<free port>` to `target`, through sockets from `socket_factory`.

    Use as a context manager; `address` and `url` are valid once started. Closing stops the
    listener and aborts every open connection.
    """

    def __init__(
        self,
        target: tuple[str, int],
        socket_factory: SocketFactory = plain_socket_factory,
        *,
        listen_host: str = "127.0.0.1",
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._target = target
        self._factory = socket_factory
        self._listen_host = listen_host
        self._connect_timeout_s = connect_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._pipes: set[_Pipe] = set()
        self._address: tuple[str, int] | None = None
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise SandboxError("proxy not started")
        return self._address

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def active_connections(self) -> int:
        return len(self._pipes)

    def start(self) -> TcpProxy:
        self._thread.start()
        started: Future[asyncio.Server] = asyncio.run_coroutine_threadsafe(
            self._listen(), self._loop
        )
        try:
            self._server = started.result()
        except BaseException:
            self._stop_loop()
            raise
        host, port = self._server.sockets[0].getsockname()[:2]
        self._address = (host, port)
        return self

    async def _listen(self) -> asyncio.Server:
        return await self._loop.create_server(
            self._accept, self._listen_host, 0, backlog=1024, reuse_address=True
        )

    def _accept(self) -> _Side:
        pipe = _Pipe(self)
        self._pipes.add(pipe)
        return pipe.client

    def _on_client(self, pipe: _Pipe) -> None:
        client = pipe.client.transport
        assert client is not None
        # Nothing is read from the client until there is somewhere to send it; the kernel
        # buffers meanwhile.
        client.pause_reading()
        pipe.connecting = self._loop.create_task(self._connect_upstream(pipe))

    def _forget(self, pipe: _Pipe) -> None:
        self._pipes.discard(pipe)

    async def _connect_upstream(self, pipe: _Pipe) -> None:
        client = pipe.client.transport
        assert client is not None
        sock = await self._upstream_socket()
        if sock is None or pipe.closed:
            if sock is not None:
                sock.close()
            _reset(client)
            pipe.abort()
            return
        try:
            await self._loop.create_connection(lambda: pipe.upstream, sock=sock)
        except OSError:
            sock.close()
            _reset(client)
            pipe.abort()
            return
        pipe.connecting = None
        if pipe.closed:  # the client went away while we were connecting
            pipe.abort()
            return
        client.resume_reading()

    async def _upstream_socket(self) -> socket.socket | None:
        try:
            # The factory may block briefly (a hop to the namespace thread); keep the loop free.
            sock = await self._loop.run_in_executor(None, self._factory)
        except Exception:
            # Whatever broke (namespace gone, fd limit), the client sees a reset and may retry.
            return None
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self._loop.sock_connect(sock, self._target)
        except (OSError, TimeoutError):
            sock.close()
            return None
        return sock

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result()
        self._stop_loop()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            pipe.abort()
        if self._server is not None:
            await self._server.wait_closed()
        await self._loop.shutdown_default_executor()

    def _stop_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
