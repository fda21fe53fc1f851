"""Size-capped logs.

A build or a crashing server can print gigabytes; what a team needs is how it started and how it
ended. `CappedLog` keeps a bounded head and tail while the output streams in, in memory bounded by
the limit whatever the input size.
"""

from __future__ import annotations


def _marker(dropped: int) -> bytes:
    return f"\n[... {dropped} bytes truncated ...]\n".encode()


class CappedLog:
    """Accumulates output; keeps the first `head_bytes` and the last `limit_bytes - head_bytes`.

    With `head_bytes=0` only the tail is kept (container logs: the end explains a crash).
    """

    def __init__(self, limit_bytes: int, *, head_bytes: int | None = None) -> None:
        if limit_bytes < 0:
            raise ValueError("limit_bytes must be >= 0")
        head = limit_bytes // 2 if head_bytes is None else head_bytes
        if not 0 <= head <= limit_bytes:
            raise ValueError("head_bytes must be between 0 and limit_bytes")
        self._head_limit = head
        self._tail_limit = limit_bytes - head
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0

    @property
    def truncated(self) -> bool:
        return self._dropped > 0

    @property
    def dropped_bytes(self) -> int:
        return self._dropped

    def feed(self, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else data
        if len(self._head) < self._head_limit:
            room = self._head_limit - len(self._head)
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        if self._tail_limit == 0:
            self._dropped += len(chunk)
            return
        if len(chunk) >= self._tail_limit:
            self._dropped += len(self._tail) + len(chunk) - self._tail_limit
            self._tail = bytearray(chunk[-self._tail_limit :])
            return
        self._tail += chunk
        # Trim only when the buffer doubles, so a stream of small chunks costs amortized O(1)
        # per byte instead of a memmove of the whole tail per chunk.
        if len(self._tail) >= 2 * self._tail_limit:
            self._trim()

    def _trim(self) -> None:
        excess = len(self._tail) - self._tail_limit
        if excess > 0:
            self._dropped += excess
            del self._tail[:excess]

    def text(self) -> str:
        """The kept output, with a marker where bytes were dropped.

        Decoding replaces invalid UTF-8, which a cut in the middle of a character produces.
        """
        self._trim()
        if not self._dropped:
            return (self._head + self._tail).decode(errors="replace")
        if not self._head:
            # Tail-only logs: the marker goes first, as a line of its own.
            return _marker(self._dropped).lstrip(b"\n").decode() + self._tail.decode(
                errors="replace"
            )
        return (self._head + _marker(self._dropped) + self._tail).decode(errors="replace")


def tail_lines(text: str, count: int) -> str:
    """The last `count` non-empty lines of `text`, for error messages."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])
