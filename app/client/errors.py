"""The one error the team CLI shows to its user: a message that says what to do."""

from __future__ import annotations

import click

EXIT_CLIENT_ERROR = 2
"""The CLI could not do its job (no token, server unreachable, refused upload). 1 is kept for
"the submission failed", so scripts can tell the two apart."""


class ClientError(click.ClickException):
    exit_code = EXIT_CLIENT_ERROR


class ApiError(ClientError):
    """The server answered with an error status; `detail` is its message."""

    def __init__(self, message: str, status_code: int, detail: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class Unreachable(ClientError):
    """No HTTP answer at all: connection refused or lost, or a timeout."""
