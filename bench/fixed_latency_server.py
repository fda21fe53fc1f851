"""A neurips2023 model server that answers every /process after a fixed latency (asyncio).

For end-to-end benchmarks whose ideal time is requests x latency / concurrency. The threaded
fake server (`evaluator.testing.FakeModelServer`) is fine for tests, but at 16 requests in flight
on two cores its threads contend for the GIL and halve throughput, so it hides how fast the
evaluator is; here every request is a coroutine sleeping on one event loop, and a response costs
a few tens of microseconds.

Speaks enough of the protocol for both Podium's client and HELM's `HTTPModelClient` /
`HTTPModelTokenizer` (deployment `neurips/local`):

    POST /process  {prompt, max_new_tokens, stop_sequences, echo_prompt, ...}
                -> {text, tokens: [{text, logprob, top_logprob}], logprob, request_time}
    POST /tokenize {text, truncation, max_length} -> {tokens: [int], request_time}
    POST /decode   {tokens: [int]} -> {text, request_time}
    GET  /stats    -> request counts and the most /process requests seen in flight at once

/tokenize splits on whitespace and numbers words in order of first sight, so /decode gives back
the words joined by single spaces (enough for HELM's and Podium's window fitting, which only
count tokens and cut at token boundaries). Every completion is the same short answer, " A",
cut to max_new_tokens (0 gives an empty answer).

Runs in its own process so its CPU is not charged to the client being measured:

    .venv/bin/python bench/fixed_latency_server.py --latency-ms 50    # prints its URL, then serves

It prints `http://127.0.0.1:PORT` on the first line of stdout once it accepts connections, and
on SIGTERM or SIGINT prints the final /stats object as JSON and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any

ANSWER = " A"
# A request head larger than this is refused (no client of ours sends one).
_MAX_HEAD = 64 * 1024


@dataclass
class Stats:
    process: int = 0
    tokenize: int = 0
    decode: int = 0
    other: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    # Wall-clock (time.time()) arrival of the first /process request and departure of the last
    # answer, so a client's setup and wind-down can be told apart from its request phase.
    first_process_at: float = 0.0
    last_answer_at: float = 0.0


class Vocabulary:
    """Whitespace words <-> ids, numbered in order of first sight (one event loop: no lock)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._words: list[str] = []

    def encode(self, text: str) -> list[int]:
        ids = []
        for word in text.split():
            number = self._ids.get(word)
            if number is None:
                number = self._ids[word] = len(self._words)
                self._words.append(word)
            ids.append(number)
        return ids

    def decode(self, ids: list[int]) -> str:
        words = self._words
        return " ".join(words[i] for i in ids if isinstance(i, int) and 0 <= i < len(words))


class FixedLatencyServer:
    """The HTTP/1.1 keep-alive server; `serve` runs it on the current event loop."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.stats = Stats()
        self.vocabulary = Vocabulary()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Head and body leave in one write, but a client's next request must not wait for a
            # delayed ACK either.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        # Latency counts from the end of the head, as the threaded fake server does: reading
        # and parsing the body is part of it, so the ideal time holds.
        received = time.perf_counter()
        if len(head) > _MAX_HEAD:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, version = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"

        status, answer = await self._route(method, path.split("?", 1)[0], body, received)
        payload = json.dumps(answer).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        return keep_alive

    async def _route(self, method: str, path: str, body: bytes, received: float) -> tuple[int, Any]:
        if method == "GET" and path == "/stats":
            return 200, asdict(self.stats)
        if method != "POST" or path not in ("/process", "/tokenize", "/decode"):
            self.stats.other += 1
            return 404, {"detail": "Not Found"}
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {"detail": "request body is not JSON"}
        if not isinstance(request, dict):
            return 400, {"detail": "request body is not a JSON object"}
        if path == "/tokenize":
            self.stats.tokenize += 1
            tokens = self.vocabulary.encode(str(request.get("text", "")))
            max_length = request.get("max_length")
            if request.get("truncation") and isinstance(max_length, int):
                tokens = tokens[:max_length]
            return 200, {"tokens": tokens, "request_time": time.perf_counter() - received}
        if path == "/decode":
            self.stats.decode += 1
            text = self.vocabulary.decode(list(request.get("tokens") or []))
            return 200, {"text": text, "request_time": time.perf_counter() - received}
        return 200, await self._process(request, received)

    async def _process(self, request: dict[str, Any], received: float) -> dict[str, Any]:
        stats = self.stats
        stats.process += 1
        if not stats.first_process_at:
            stats.first_process_at = time.time()
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            remaining = self.latency_s - (time.perf_counter() - received)
            if remaining > 0:
                await asyncio.sleep(remaining)
        finally:
            stats.in_flight -= 1
        max_new_tokens = request.get("max_new_tokens")
        pieces = [ANSWER] if not isinstance(max_new_tokens, int) or max_new_tokens > 0 else []
        text = "".join(pieces)
        if request.get("echo_prompt"):
            text = str(request.get("prompt", "")) + text
        tokens = [{"text": p, "logprob": -0.25, "top_logprob": {p: -0.25}} for p in pieces]
        stats.last_answer_at = time.time()
        return {
            "text": text,
            "tokens": tokens,
            "logprob": -0.25 * len(tokens),
            "request_time": time.perf_counter() - received,
        }


async def serve(latency_s: float, host: str, port: int) -> Stats:
    """Serve until SIGTERM or SIGINT; the URL goes to stdout once connections are accepted."""
    server = FixedLatencyServer(latency_s)
    # The backlog matters when 16 clients connect at once: a full one costs a SYN retransmit.
    listener = await asyncio.start_server(server.handle, host, port, backlog=512)
    bound = listener.sockets[0].getsockname()
    print(f"http://{bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with listener:
        await stop.wait()
    return server.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per /process request")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()
    stats = asyncio.run(serve(args.latency_ms / 1000, args.host, args.port))
    print(json.dumps(asdict(stats)), flush=True)


if __name__ == "__main__":
    main()
