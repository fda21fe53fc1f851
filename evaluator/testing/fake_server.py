"""A fake model server on 127.0.0.1 (neurips2023 or openai protocol), with switches for real
servers' quirks.

Threaded stdlib HTTP/1.1 server (keep-alive, so the client's connection pool behaves as with a real
server). The answer to a prompt comes from a caller-supplied function; latency is a fixed sleep per
request, so a benchmark knows the ideal run time exactly.

    with fake_server(answer=always(" A"), latency_s=0.02) as base_url:
        ...
    with FakeModelServer(FakeServerConfig(fail_first=2)) as server:
        ... server.base_url ... server.stats.max_in_flight ...

The `pad_*` and `token_logprob` switches make a garbage server (answers far larger than asked,
padded token lists, NaN logprobs). To keep its memory out of the caller's, run it in a process of
its own: `python -m evaluator.testing.fake_server '{"pad_tokens": 320000}'` prints the base URL
and serves until killed (see `main`).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

AnswerFn = Callable[[str], str]

# Words with their leading whitespace, plus trailing whitespace: joining the pieces gives the text
# back, as a real tokenizer's token texts do.
_PIECES = re.compile(r"\s*\S+|\s+$")
# Bytes an endless answer may send before the server gives up on its own.
_ENDLESS_LIMIT = 256 * 1024 * 1024


def always(text: str) -> AnswerFn:
    """An answer function that returns `text` for every prompt."""
    return lambda _prompt: text


@dataclass(frozen=True)
class FakeServerConfig:
    """Behaviour of the fake server."""

    # Completion text for a prompt, before stop sequences and max_new_tokens are applied.
    answer: AnswerFn = field(default=always(" A"))
    # Seconds each /process request takes.
    latency_s: float = 0.0
    # Seconds each /tokenize request takes.
    tokenize_latency_s: float = 0.0
    # "whitespace" (one token per whitespace-separated word) or "bytes" (one per UTF-8 byte).
    tokenizer: str = "whitespace"
    # Serve /decode (real servers often lack it: 404).
    decode: bool = True
    # Return the answer uncut even when it contains a stop sequence.
    ignore_stop_sequences: bool = False
    # Return more tokens than max_new_tokens.
    ignore_max_tokens: bool = False
    # Every Nth /process answer is truncated JSON (0: never).
    malformed_json_every: int = 0
    # /process streams an answer that never ends.
    endless_output: bool = False
    # The first N /process requests are answered 503.
    fail_first: int = 0
    # Key of the per-token alternatives: "top_logprob", "top_logprobs", or "" to omit them.
    top_logprob_key: str = "top_logprob"
    # Omit `logprob` and `request_time`, as some servers do.
    omit_optional_fields: bool = False
    # Wire protocol: "neurips2023", or "openai" (/v1/completions, /v1/models, and vLLM's
    # /tokenize and /detokenize).
    protocol: str = "neurips2023"
    # Model id served under the openai protocol.
    model: str = "fake-model"
    # Tokens appended to every completion's token list (text `pad_token_text`), e.g. 320_000
    # empty ones: a server inflating its token count or its answer.
    pad_tokens: int = 0
    # Text of each padding token.
    pad_token_text: str = ""
    # Characters ("x") appended to every completion's text, token list unchanged.
    pad_text_chars: int = 0
    # Bytes of an extra, unknown field in every completion answer.
    pad_body_bytes: int = 0
    # Logprob of every token and alternative; float("nan") or float("inf") are sent as the
    # NaN / Infinity literals Python's json writes.
    token_logprob: float = -0.25
    # Token ids appended to every /tokenize answer.
    pad_tokenize_tokens: int = 0
    # Characters appended to every /decode answer.
    pad_decode_chars: int = 0
    # How answer bodies are delimited: "length" (Content-Length), "chunked" (64 KiB chunks), or
    # "close" (the connection closes after the body).
    body_framing: str = "length"


@dataclass
class FakeServerStats:
    """What the server saw. Read it after requests finished; updated under `lock`."""

    process_requests: int = 0
    tokenize_requests: int = 0
    decode_requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    # Prompts of every /process request, in arrival order.
    prompts: list[str] = field(default_factory=list)
    # Full bodies of every /process request, in arrival order.
    process_payloads: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class _Vocabulary:
    """Word <-> id map of the whitespace tokenizer (shared by request threads)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._words: list[str] = []
        self._lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        with self._lock:
            ids = []
            for word in text.split():
                if word not in self._ids:
                    self._ids[word] = len(self._words)
                    self._words.append(word)
                ids.append(self._ids[word])
            return ids

    def decode(self, ids: list[int]) -> str:
        with self._lock:
            return " ".join(self._words[i] for i in ids if 0 <= i < len(self._words))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many clients connect at once at the start of a concurrent run; the default backlog of 5
    # would make some of them wait for a SYN retransmit.
    request_queue_size = 512

    def __init__(self, config: FakeServerConfig) -> None:
        self.config = config
        self.stats = FakeServerStats()
        self.vocabulary = _Vocabulary()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections are closed after this, so handler threads do not linger.
    timeout = 60
    server: _Server
    received = 0.0

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm on, the body waits
        # for the client's delayed ACK (40 ms), which would swamp any configured latency.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # Request logs would drown test output.
        return

    def _send_json(self, status: int, value: Any) -> None:
        self._send_raw(status, json.dumps(value).encode("utf-8"))

    def _send_raw(self, status: int, body: bytes) -> None:
        framing = self.server.config.body_framing
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif framing == "close":
            self.close_connection = True
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if framing != "chunked":
                self.wfile.write(body)
                return
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading (an answer over its limit).
            self.close_connection = True

    def do_POST(self) -> None:
        # Latency is counted from here, so reading and parsing the body is part of it rather
        # than added to it: a benchmark's ideal time then holds.
        self.received = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            self._send_json(400, {"detail": "request body is not JSON"})
            return
        config = self.server.config
        openai = config.protocol == "openai"
        if self.path == ("/v1/completions" if openai else "/process"):
            self._process(payload)
        elif self.path == "/tokenize":
            self._tokenize(payload)
        elif self.path == ("/detokenize" if openai else "/decode") and config.decode:
            self._decode(payload)
        else:
            self._send_json(404, {"detail": "Not Found"})

    def do_GET(self) -> None:
        config = self.server.config
        if config.protocol == "openai" and self.path == "/v1/models":
            model = {"id": config.model, "object": "model", "owned_by": "podium"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, {"detail": "Not Found"})

    def _tokens(self, text: str) -> list[int]:
        if self.server.config.tokenizer == "bytes":
            return list(text.encode("utf-8"))
        return self.server.vocabulary.encode(text)

    def _tokenize(self, payload: dict[str, Any]) -> None:
        config, stats = self.server.config, self.server.stats
        with stats.lock:
            stats.tokenize_requests += 1
        if config.tokenize_latency_s:
            time.sleep(config.tokenize_latency_s)
        if config.protocol == "openai":
            tokens = self._tokens(str(payload.get("prompt", ""))) + [0] * config.pad_tokenize_tokens
            self._send_json(200, {"tokens": tokens, "count": len(tokens), "max_model_len": 2048})
            return
        tokens = self._tokens(str(payload.get("text", "")))
        max_length = payload.get("max_length")
        if payload.get("truncation") and isinstance(max_length, int):
            tokens = tokens[:max_length]
        tokens += [0] * config.pad_tokenize_tokens
        self._send_json(200, {"tokens": tokens, "request_time": 0.0001})

    def _decode(self, payload: dict[str, Any]) -> None:
        stats = self.server.stats
        with stats.lock:
            stats.decode_requests += 1
        ids = [int(i) for i in payload.get("tokens", [])]
        if self.server.config.tokenizer == "bytes":
            text = bytes(i % 256 for i in ids).decode("utf-8", errors="ignore")
        else:
            text = self.server.vocabulary.decode(ids)
        text += "x" * self.server.config.pad_decode_chars
        if self.server.config.protocol == "openai":
            self._send_json(200, {"prompt": text})
        else:
            self._send_json(200, {"text": text, "request_time": 0.0001})

    def _process(self, payload: dict[str, Any]) -> None:
        config, stats = self.server.config, self.server.stats
        prompt = str(payload.get("prompt", ""))
        with stats.lock:
            stats.process_requests += 1
            number = stats.process_requests
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            stats.prompts.append(prompt)
            stats.process_payloads.append(payload)
        try:
            started = self.received
            remaining = config.latency_s - (time.perf_counter() - started)
            if remaining > 0:
                time.sleep(remaining)
            if number <= config.fail_first:
                self._send_json(503, {"detail": "model is still loading"})
                return
            if config.endless_output:
                self._send_endless()
                return
            every = config.malformed_json_every
            if every and (number - config.fail_first) % every == 0:
                self._send_raw(200, b'{"text": " A", "tokens": [{"text": " A", "logpr')
                return
            self._send_json(200, self._completion(prompt, payload, started))
        finally:
            with stats.lock:
                stats.in_flight -= 1

    def _completion(self, prompt: str, payload: dict[str, Any], started: float) -> dict[str, Any]:
        config = self.server.config
        openai = config.protocol == "openai"
        text = config.answer(prompt)
        if not config.ignore_stop_sequences:
            for stop in payload.get("stop" if openai else "stop_sequences") or []:
                if stop and stop in text:
                    text = text[: text.index(stop)]
        pieces = _PIECES.findall(text)
        max_new_tokens = payload.get("max_tokens" if openai else "max_new_tokens")
        if not config.ignore_max_tokens and isinstance(max_new_tokens, int):
            pieces = pieces[:max_new_tokens]
            text = "".join(pieces)
        text += "x" * config.pad_text_chars
        pieces += [config.pad_token_text] * config.pad_tokens
        logprob = config.token_logprob
        if openai:
            response = _openai_completion(config.model, text, pieces, logprob)
        else:
            tokens: list[dict[str, Any]] = []
            for piece in pieces:
                token: dict[str, Any] = {"text": piece, "logprob": logprob}
                if config.top_logprob_key:
                    token[config.top_logprob_key] = {piece: logprob}
                tokens.append(token)
            response = {"text": text, "tokens": tokens}
            if not config.omit_optional_fields:
                response["logprob"] = logprob * len(tokens)
                response["request_time"] = time.perf_counter() - started
        if config.pad_body_bytes:
            response["padding"] = "x" * config.pad_body_bytes
        return response

    def _send_endless(self) -> None:
        # No Content-Length: the body ends when the connection closes, which it never does.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"A" * 65536
        sent = 0
        try:
            self.wfile.write(b'{"text": "')
            while sent < _ENDLESS_LIMIT:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return


def _openai_completion(
    model: str, text: str, pieces: list[str], logprob: float = -0.25
) -> dict[str, Any]:
    """A /v1/completions answer with logprobs, shaped as vLLM returns it."""
    offsets = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": text,
                "logprobs": {
                    "text_offset": offsets,
                    "token_logprobs": [logprob] * len(pieces),
                    "tokens": pieces,
                    "top_logprobs": [{piece: logprob} for piece in pieces],
                },
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(pieces), "total_tokens": 0},
    }


class FakeModelServer:
    """The fake server as an object: start/stop it, read `base_url` and `stats`."""

    def __init__(self, config: FakeServerConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or FakeServerConfig(), **overrides)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> FakeServerStats:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return self._server.stats

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeModelServer:
        self._server = _Server(self.config)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def fake_server(config: FakeServerConfig | None = None, **overrides: Any) -> Iterator[str]:
    """Run a fake server for the duration of the block; yields its base URL."""
    with FakeModelServer(config, **overrides) as server:
        yield server.base_url


def main(argv: list[str] | None = None) -> None:
    """Serve a fake server in this process until it is killed.

    The one argument is a JSON object of `FakeServerConfig` fields (`answer` excluded; give
    `answer_text` for a fixed answer; `token_logprob` may be the string "nan", "inf" or "-inf").
    Prints the base URL on one line once the server listens.
    """
    import sys

    options: dict[str, Any] = json.loads((argv if argv is not None else sys.argv[1:])[0] or "{}")
    if "answer_text" in options:
        options["answer"] = always(str(options.pop("answer_text")))
    if isinstance(options.get("token_logprob"), str):
        options["token_logprob"] = float(options["token_logprob"])
    with FakeModelServer(FakeServerConfig(**options)) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        threading.Event().wait()


if __name__ == "__main__":
    main()
