"""A directory as an uncompressed tar stream, produced while it is sent (constant memory)."""

from __future__ import annotations

import queue
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024 * 1024
_DONE = object()


class _QueueWriter:
    """A write-only file whose writes become chunks on a bounded queue."""

    def __init__(self, out: queue.Queue[object]) -> None:
        self.out = out
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= CHUNK:
            self.out.put(bytes(self.buffer[:CHUNK]))
            del self.buffer[:CHUNK]
        return len(data)

    def flush_all(self) -> None:
        if self.buffer:
            self.out.put(bytes(self.buffer))
            self.buffer.clear()


def tar_directory(root: Path) -> Iterator[bytes]:
    """Yield `root`'s files as a tar stream; symlinks are stored as links, as they are."""
    chunks: queue.Queue[object] = queue.Queue(maxsize=8)
    errors: list[BaseException] = []

    def produce() -> None:
        writer = _QueueWriter(chunks)
        try:
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for path in sorted(root.rglob("*")):
                    tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
            writer.flush_all()
        except BaseException as exc:  # reported to the consumer, which re-raises it
            errors.append(exc)
        finally:
            chunks.put(_DONE)

    threading.Thread(target=produce, name="podium-tar", daemon=True).start()
    while True:
        item = chunks.get()
        if item is _DONE:
            break
        assert isinstance(item, bytes)
        yield item
    if errors:
        raise errors[0]
