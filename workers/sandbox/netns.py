"""Sockets created inside another process's network namespace.

A sandboxed container runs with `network_mode="none"`: it has only its own loopback, so nothing
outside can reach it and it can reach nothing. The worker still has to talk to the server in it.
Linux ties a socket to the network namespace of the thread that created it, for the socket's
whole life, whichever thread uses it later. So one dedicated thread enters the container's
namespace with `setns(2)` and does nothing but create sockets on request; the caller connects and
uses them from anywhere. The thread is never returned to a pool: its namespace changed for good.

Needs CAP_SYS_ADMIN and a view of the container's PID (the host's PID namespace).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import queue
import socket
import threading
from concurrent.futures import Future

from workers.sandbox.faults import HostSetupError
from workers.sandbox.runtime import SandboxError

CLONE_NEWNET = 0x40000000


class ProcessGone(SandboxError):
    """No process with that PID is visible: it exited (or lives in a PID namespace we cannot
    see). Not a privilege problem, so the caller decides whose fault it is."""


_libc: ctypes.CDLL | None = None


def _setns(fd: int, nstype: int) -> None:
    # Python 3.11 has no os.setns (added in 3.12), hence libc through ctypes.
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class NetnsSocketFactory:
    """Creates unconnected TCP sockets in the network namespace of `/proc/<pid>/ns/net`.

    Holding the namespace file open keeps the namespace alive even if the process exits, so a
    late connect gets a clean "connection refused" rather than an error about a missing PID.
    Use as a context manager, or call `close()`.
    """

    def __init__(self, pid: int, *, family: socket.AddressFamily = socket.AF_INET) -> None:
        if pid <= 0:
            raise SandboxError(f"no process to enter (pid {pid})")
        self._family = family
        try:
            self._ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ESRCH):
                # Most often the process has just exited; the caller, who knows what the
                # process was, tells that apart from a worker outside the host's PID namespace.
                raise ProcessGone(
                    f"cannot open the network namespace of pid {pid}: no such process is "
                    "visible here (it exited, or this worker is not in the host's PID namespace)"
                ) from exc
            raise HostSetupError(
                f"cannot open the network namespace of pid {pid}: {exc}; the worker needs the "
                "host's PID namespace and root"
            ) from exc
        self.inode = os.fstat(self._ns_fd).st_ino
        """Identifies the namespace entered (compare with `os.stat("/proc/self/ns/net")`)."""
        self._requests: queue.SimpleQueue[Future[socket.socket] | None] = queue.SimpleQueue()
        # Guards `_closed` so that no request is queued behind the stop sentinel.
        self._lock = threading.Lock()
        self._closed = False
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name=f"netns-{pid}", daemon=True
        )
        self._thread.start()
        try:
            ready.result()
        except OSError as exc:
            self._thread.join()
            os.close(self._ns_fd)
            raise HostSetupError(
                f"cannot enter the network namespace of pid {pid}: {exc}; the worker needs "
                "CAP_SYS_ADMIN"
            ) from exc

    def _serve(self, ready: Future[None]) -> None:
        try:
            _setns(self._ns_fd, CLONE_NEWNET)
        except OSError as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        while (request := self._requests.get()) is not None:
            if not request.set_running_or_notify_cancel():
                continue
            try:
                request.set_result(socket.socket(self._family, socket.SOCK_STREAM))
            except OSError as exc:
                request.set_exception(exc)

    def submit(self) -> Future[socket.socket]:
        """Ask for a socket without blocking (for event loops: wrap with asyncio.wrap_future)."""
        future: Future[socket.socket] = Future()
        with self._lock:
            if self._closed or not self._thread.is_alive():
                future.set_exception(SandboxError("namespace socket factory is closed"))
            else:
                self._requests.put(future)
        return future

    def __call__(self) -> socket.socket:
        return self.submit().result()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._requests.put(None)
        self._thread.join()
        if self._ns_fd >= 0:
            os.close(self._ns_fd)
            self._ns_fd = -1

    def __enter__(self) -> NetnsSocketFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
