"""Errors services raise; the API turns each into a status code with its message."""

from __future__ import annotations


class PodiumError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PodiumError):
    status_code = 400


class NotFound(PodiumError):
    status_code = 404


class Conflict(PodiumError):
    status_code = 409


class PayloadTooLarge(PodiumError):
    status_code = 413


class Unprocessable(PodiumError):
    status_code = 422


class InsufficientStorage(PodiumError):
    """The server's disk is full: not the caller's fault; the message says whom to tell."""

    status_code = 507
