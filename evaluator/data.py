"""Scenario data files, read from a local directory and verified against sha256 pins.

The directory is laid out like the upstream sources (e.g. `mmlu/data/test/anatomy_test.csv`). A file
whose hash differs from its pin is an error, never a silent change of the benchmark.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path, PurePosixPath

from evaluator.errors import DataIntegrityError


class DataSource:
    """Read-only access to pinned scenario files under `root`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        # Verified contents by relative path: a suite reads each file once, and re-hashing a
        # multi-megabyte file for every run spec would be wasted work.
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DataSource({str(self.root)!r})"

    def path(self, relative: str) -> Path:
        rel = PurePosixPath(relative)
        # Pins come from code, but a path escaping the root would read arbitrary files.
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"data path must be relative and inside the data root: {relative!r}")
        return self.root.joinpath(*rel.parts)

    def read_bytes(self, relative: str, sha256: str) -> bytes:
        """Contents of `relative`, after checking them against `sha256`."""
        with self._lock:
            cached = self._verified.get(relative)
        if cached is not None:
            return cached
        try:
            data = self.path(relative).read_bytes()
        except FileNotFoundError:
            raise DataIntegrityError(relative, sha256, "missing") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise DataIntegrityError(relative, sha256, actual)
        with self._lock:
            self._verified[relative] = data
        return data

    def verify(self, pins: dict[str, str] | list[tuple[str, str]]) -> None:
        """Check every pinned file up front, so a bad data directory fails before any request."""
        items = pins.items() if isinstance(pins, dict) else pins
        for relative, sha256 in items:
            self.read_bytes(relative, sha256)
