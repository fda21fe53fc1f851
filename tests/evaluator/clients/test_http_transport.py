"""The HTTP/1.1 transport against raw scripted answers (framings real servers use)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from evaluator import ProtocolError, TransientError
from evaluator.clients.transport import AsyncHttp11Transport

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


async def _with_server(script: Script, client: Callable[[str], Awaitable[None]]) -> int:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await script(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await client(f"http://127.0.0.1:{port}")
    return connections


def _transport(url: str, cap: int = 1 << 20) -> AsyncHttp11Transport:
    return AsyncHttp11Transport(url, max_response_bytes=cap)


def test_keep_alive_content_length_reuses_one_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                body = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    async def client(url: str) -> None:
        transport = _transport(url)
        for i in range(3):
            answer = await transport.request("POST", "/process", b'{"i": %d}' % i, 5)
            assert (answer.status, answer.body) == (200, b'{"i": %d}' % i)
        await transport.aclose()

    assert asyncio.run(_with_server(script, client)) == 1


def test_chunked_and_close_delimited_bodies() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5;ext=1\r\n{"a":\r\n3\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n'
        )
        await _read_request(reader)
        writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"b": 2}')
        await writer.drain()

    async def client(url: str) -> None:
        transport = _transport(url)
        assert (await transport.request("POST", "/p", b"{}", 5)).body == b'{"a": 1}'
        assert (await transport.request("POST", "/p", b"{}", 5)).body == b'{"b": 2}'

    assert asyncio.run(_with_server(script, client)) == 1


def test_stale_keep_alive_connection_is_replaced_transparently() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answer once, keep-alive, then drop the connection as an idle timeout would.
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await asyncio.sleep(0.05)

    async def client(url: str) -> None:
        transport = _transport(url)
        await transport.request("POST", "/p", b"{}", 5)
        await asyncio.sleep(0.1)
        assert (await transport.request("POST", "/p", b"{}", 5)).body == b"{}"

    assert asyncio.run(_with_server(script, client)) == 2


def test_body_over_the_cap_is_refused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            writer.write(b"400\r\n" + b"A" * 1024 + b"\r\n")
        await writer.drain()

    async def client(url: str) -> None:
        with pytest.raises(ProtocolError, match="more than 4096 bytes"):
            await _transport(url, cap=4096).request("POST", "/p", b"{}", 5)

    asyncio.run(_with_server(script, client))


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", ProtocolError, "not an HTTP response"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError, "malformed response header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", TransientError, "failed"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
            ProtocolError,
            "content-encoding",
        ),
    ],
)
def test_broken_answers(raw: bytes, error: type[Exception], message: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(raw)
        await writer.drain()

    async def client(url: str) -> None:
        with pytest.raises(error, match=message):
            await _transport(url).request("POST", "/p", b"{}", 5)

    asyncio.run(_with_server(script, client))


def test_silent_server_times_out() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)

    async def client(url: str) -> None:
        with pytest.raises(TransientError, match="timed out after 0.1s"):
            await _transport(url).request("POST", "/p", b"{}", 0.1)

    asyncio.run(_with_server(script, client))
