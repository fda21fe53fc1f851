"""glibc malloc settings for a process that streams large request bodies.

Every piece of a streamed body is a fresh ~256 KiB object: asyncio reads 256 KiB at a time, and h11
and uvicorn copy it on. With glibc's defaults those blocks come from mmap, or from the top of the
heap, which is trimmed back as soon as they are freed, so the next piece faults its pages in again:
measured here, 1.8 page faults per 4 KiB received and about 40% of the event loop's CPU during an
upload. Serving blocks under 1 MiB from the heap and keeping up to 16 MiB of freed memory mapped
removes nearly all of those faults (bench/README.md, "Resumable upload throughput"); the price is
at most 16 MiB of memory the process keeps instead of handing back.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024**2
TRIM_THRESHOLD_BYTES = 16 * 1024**2


def tune_for_streaming() -> bool:
    """Apply the settings above; False (and nothing changed) where libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    )
