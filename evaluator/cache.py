"""Response caches: every response is stored as it arrives, so a killed run resumes where it
stopped and a re-run sends nothing twice.

Keys are sha256 hex digests of the canonical JSON of what was asked (see `completion_key` and
`tokenize_key`); values are JSON-serialisable dicts. The worker implements `ResponseCache` on its
own database; the two implementations here serve the CLI, tests and benchmarks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from evaluator.core import Request
from evaluator.hashing import content_hash


@runtime_checkable
class ResponseCache(Protocol):
    """Durable key -> JSON dict store. Called from the event loop, so keep both calls fast."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


def completion_key(protocol: str, request: Request, salt: str = "") -> str:
    """Cache key of a completion: protocol, every request field, and the caller's model salt
    (e.g. the image digest and weights hash, so another model never reuses these answers)."""
    return content_hash(
        {"kind": "completion", "protocol": protocol, "request": request.to_dict(), "salt": salt}
    )


def tokenize_key(
    protocol: str, text: str, truncation: bool, max_length: int | None, salt: str = ""
) -> str:
    return content_hash(
        {
            "kind": "tokenize",
            "protocol": protocol,
            "text": text,
            "truncation": truncation,
            "max_length": max_length,
            "salt": salt,
        }
    )


class MemoryResponseCache:
    """In-process cache (tests, one-off runs). Stores copies so callers cannot alias entries."""

    def __init__(self) -> None:
        self._items: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._items.get(key)
        return None if raw is None else dict(json.loads(raw))

    def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value)
        with self._lock:
            self._items[key] = raw

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class SqliteResponseCache:
    """SQLite-backed cache: one committed row per `put`.

    WAL mode lets readers proceed during writes; `synchronous=NORMAL` makes each commit survive a
    killed process (the case that matters for resuming) without an fsync per response; pass
    `synchronous="FULL"` to survive power loss too. One connection guarded by a lock makes it safe
    for concurrent use from threads of one process.
    """

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at REAL NOT NULL)"
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value)
        with self._lock:
            # Autocommit mode: the statement is its own committed transaction.
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, value, created_at) VALUES (?, ?, ?)",
                (key, raw, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
