"""The HTTP protocol the API is served with: uvicorn's h11 protocol plus a request-head deadline.

uvicorn (0.54, h11) never times out a request whose headers are still arriving: its keep-alive
timer starts only after a response and stops at the first byte of the next request. A client
that sends its headers a byte at a time (slowloris) holds a connection, and a file descriptor,
for ever; a thousand of them and the server accepts no one. Here every connection gets a
deadline for its full request head, counted from when it opens and again from each response on
a keep-alive connection; past it the connection is closed. Requests whose head has arrived are
never cut: how long a handler or an upload body takes is the application's business.

uvicorn's command line takes only its built-in protocol names, so the API is started through
`podium serve` / `podium up` (app/cli.py), which pass the class made here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderTimeoutProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request head is not complete in time."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        if not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(
                self.header_timeout_s, self._head_deadline_passed
            )

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        # A request in flight (its head arrived since the timer was armed) is left alone; the
        # timer is armed again when its response is complete.
        if self.cycle is not None and not self.cycle.response_complete:
            return
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass  # h11 is mid-message on our side; closing the transport is all that matters
        self.transport.close()


def header_timeout_protocol(header_timeout_s: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to pass as uvicorn's `http=`, with this request-head deadline."""
    return type(
        "HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": header_timeout_s}
    )
