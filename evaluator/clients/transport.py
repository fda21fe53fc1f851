"""A small HTTP/1.1 client transport on asyncio streams.

Why not httpx: measured against the fake server, httpx's connection pool cost 1-1.5 ms of CPU per
request (connection scans on every request, anyio attribute lookups), which made a 16-way
evaluation CPU-bound on one core at a few hundred requests per second. Team servers speak plain
HTTP/1.1 with JSON bodies, so this transport implements exactly that: keep-alive connections,
Content-Length, chunked and close-delimited bodies, a cap on the bytes read, and an optional
socket factory (the worker opens sockets inside the container's network namespace).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from evaluator.errors import ProtocolError, TransientError

SocketFactory = Callable[[], socket.socket]

_MAX_HEADER_BYTES = 64 * 1024
# Informational (1xx) answers accepted before the real one; real servers send at most one.
_MAX_INFORMATIONAL = 8


@dataclass(frozen=True)
class HttpAnswer:
    """A complete HTTP answer."""

    # HTTP status code.
    status: int
    # Body bytes (at most the transport's cap).
    body: bytes
    # Seconds from sending the request to the last body byte.
    elapsed_s: float


class HttpTransport(Protocol):
    """Sends one request (body: JSON bytes, or None for GET) and returns the whole answer;
    raises TransientError or ProtocolError."""

    async def request(
        self, method: str, path: str, body: bytes | None, timeout_s: float
    ) -> HttpAnswer: ...

    async def aclose(self) -> None: ...


def too_large(path: str, cap: int) -> ProtocolError:
    return ProtocolError(
        f"{path} sent more than {cap} bytes without finishing its response; "
        "is the server ignoring max_new_tokens or stop sequences?"
    )


class _StaleConnection(Exception):
    """A reused keep-alive connection was closed by the server before answering."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class AsyncHttp11Transport:
    """Pooled keep-alive HTTP/1.1 over asyncio streams, one pool per event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        max_response_bytes: int,
        socket_factory: SocketFactory | None = None,
        max_idle_connections: int = 256,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc
        self._cap = max_response_bytes
        self._socket_factory = socket_factory
        self._max_idle = max_idle_connections
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self) -> _Connection:
        if self._socket_factory is not None:
            # The factory may switch network namespaces in a thread of its own; keep it off the
            # event loop.
            sock = await asyncio.get_running_loop().run_in_executor(None, self._socket_factory)
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=self._tls or None, limit=_MAX_HEADER_BYTES
            )
        else:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._tls or None, limit=_MAX_HEADER_BYTES
            )
        sock_obj = writer.get_extra_info("socket")
        if sock_obj is not None and sock_obj.family in (socket.AF_INET, socket.AF_INET6):
            # Request head and body go out in one write, but Nagle would still delay small
            # writes behind a delayed ACK on some stacks.
            sock_obj.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer)

    async def _checkout(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that opened them; a new asyncio.run starts afresh.
            self._idle = []
            self._loop = loop
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        return await self._connect()

    def _checkin(self, connection: _Connection) -> None:
        if len(self._idle) < self._max_idle and connection.usable():
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        same_loop = self._loop is asyncio.get_running_loop()
        self._loop = None
        if not same_loop:
            # Connections of an earlier, finished loop went with it; closing them here would
            # schedule callbacks on that closed loop.
            return
        for connection in idle:
            connection.close()
            try:
                await connection.writer.wait_closed()
            except OSError:
                pass

    async def request(
        self, method: str, path: str, body: bytes | None, timeout_s: float
    ) -> HttpAnswer:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                for _ in range(2):
                    connection = await self._checkout()
                    try:
                        status, payload, keep_alive = await self._exchange(
                            connection, method, path, body
                        )
                    except _StaleConnection:
                        # The server dropped an idle connection (idle timeout, restart): the
                        # other idle ones are likely gone too, so the retry opens a fresh one.
                        connection.close()
                        for idle in self._idle:
                            idle.close()
                        self._idle = []
                        continue
                    except BaseException:
                        connection.close()
                        raise
                    if keep_alive:
                        self._checkin(connection)
                    else:
                        connection.close()
                    return HttpAnswer(status, payload, time.perf_counter() - started)
                raise TransientError(
                    f"{method} {path} failed: the server keeps closing connections"
                )
        except TimeoutError:
            raise TransientError(f"{method} {path} timed out after {timeout_s:g}s") from None
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise TransientError(f"{method} {path} failed: {detail}") from None

    async def _exchange(
        self, connection: _Connection, method: str, path: str, body: bytes | None
    ) -> tuple[int, bytes, bool]:
        content = (
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            if body is not None
            else ""
        )
        head = (
            f"{method} {self._prefix}{path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            f"Accept: application/json\r\n{content}\r\n"
        ).encode("ascii")
        where = f"{method} {path}"
        reader, writer = connection.reader, connection.writer
        try:
            writer.write(head + (body or b""))
            await writer.drain()
            status, version, headers = await _read_head(reader, where)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            # A keep-alive connection the server closed while idle fails before any answer;
            # that is not the server failing this request.
            nothing_read = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
            if connection.reused and nothing_read:
                raise _StaleConnection from None
            raise
        informational = 0
        while 100 <= status < 200:
            # An informational answer (e.g. 100 Continue); the real one follows.
            informational += 1
            if informational > _MAX_INFORMATIONAL:
                raise ProtocolError(
                    f"{where}: more than {_MAX_INFORMATIONAL} informational (1xx) answers"
                )
            status, version, headers = await _read_head(reader, where)
        payload, delimited_by_close = await self._read_body(reader, headers, where)
        connection_header = headers.get("connection", "").lower()
        keep_alive = (
            not delimited_by_close
            and "close" not in connection_header
            and (version == "HTTP/1.1" or "keep-alive" in connection_header)
        )
        return status, payload, keep_alive

    async def _read_body(
        self, reader: asyncio.StreamReader, headers: dict[str, str], path: str
    ) -> tuple[bytes, bool]:
        cap = self._cap
        encoding = headers.get("content-encoding", "identity").lower()
        if encoding != "identity":
            raise ProtocolError(f"{path}: unsupported content-encoding {encoding!r}")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader, cap, path), False
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ProtocolError(f"{path}: invalid Content-Length {length!r}")
            size = int(length)
            if size > cap:
                raise ProtocolError(
                    f"{path} announced a {size}-byte response, over the {cap}-byte "
                    "limit; is the server ignoring max_new_tokens?"
                )
            return await reader.readexactly(size), False
        body = bytearray()
        while chunk := await reader.read(65536):
            if len(body) + len(chunk) > cap:
                raise too_large(path, cap)
            body += chunk
        return bytes(body), True


async def _read_head(reader: asyncio.StreamReader, path: str) -> tuple[int, str, dict[str, str]]:
    """Status line and headers, read in one go up to the blank line that ends them."""
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"{path}: response headers exceed {_MAX_HEADER_BYTES} bytes") from None
    lines = block.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"{path}: not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        if not raw:
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            raise ProtocolError(f"{path}: malformed response header {raw[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[0], headers


async def _read_chunked(reader: asyncio.StreamReader, cap: int, path: str) -> bytes:
    """A chunked body. The cap counts what crosses the wire (chunk-size lines, trailers), not only
    the payload: a server sending one-byte chunks or endless trailers is stopped as early as one
    sending a large body."""
    body = bytearray()
    received = 0
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError(f"{path}: malformed chunked body") from None
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"{path}: malformed chunk size {line[:40]!r}") from None
        received += len(line)
        if size == 0:
            # Trailer section ends with an empty line.
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                received += len(trailer)
                if received > cap:
                    raise too_large(path, cap)
            return bytes(body)
        received += size + 2
        if received > cap:
            raise too_large(path, cap)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
