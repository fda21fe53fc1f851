"""Exceptions raised by the evaluator.

Each error that can end an evaluation carries a `reason` that maps onto the submission failure codes
of the service (`protocol_error`, `start_timeout`, `eval_timeout`, ...), so the worker never has to
parse messages. Messages are written for the team that owns the model server.
"""

from __future__ import annotations


class EvaluatorError(Exception):
    """Base class of every error raised on purpose by the evaluator."""

    reason: str = "internal_error"


class EvaluationError(EvaluatorError):
    """The evaluation as a whole cannot produce a trustworthy score.

    `reason` is one of `protocol_error` (the server answered, wrongly), `server_unreachable`
    (requests kept failing at the transport level), `eval_timeout` (total budget spent).
    """

    def __init__(self, message: str, *, reason: str = "protocol_error") -> None:
        super().__init__(message)
        self.reason = reason


class ProtocolError(EvaluatorError):
    """The server answered one request with something the protocol does not allow.

    Never retried: a server that returns malformed output once will do it again.
    """

    reason = "protocol_error"


class TransientError(EvaluatorError):
    """A request failed in a way worth retrying (connection reset, 5xx, 429, timeout)."""

    reason = "server_unreachable"


class DecodeUnsupported(EvaluatorError):
    """The server has no usable `/decode` endpoint (optional in the neurips2023 protocol)."""


class StartTimeout(EvaluatorError):
    """The server did not become ready in time, or exited while we waited.

    `exited` is true when the caller's liveness check reported the server gone, which the worker
    reports as a crash rather than a slow start.
    """

    reason = "start_timeout"

    def __init__(self, message: str, *, exited: bool = False) -> None:
        super().__init__(message)
        self.exited = exited


class DataIntegrityError(EvaluatorError):
    """A scenario data file is missing or its sha256 differs from the suite's pin."""

    reason = "internal_error"

    def __init__(self, path: str, expected: str, actual: str) -> None:
        if actual == "missing":
            message = f"scenario data file {path} is missing (expected sha256 {expected})"
        else:
            message = (
                f"scenario data file {path} does not match its pin: "
                f"expected sha256 {expected}, actual {actual}"
            )
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class ScenarioDataError(EvaluatorError):
    """A pinned data file parsed into something the scenario cannot use."""


class UnknownNameError(EvaluatorError, LookupError):
    """A name looked up in a registry (suite, scenario, metric, ...) is not registered."""

    def __init__(self, kind: str, name: str, suggestions: list[str], known: list[str]) -> None:
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        listing = ", ".join(known) if known else "none"
        super().__init__(f"unknown {kind} {name!r}{hint} (known: {listing})")
        self.kind = kind
        self.name = name
        self.suggestions = suggestions


class SuiteNotFound(UnknownNameError):
    """`get_suite` was asked for a suite that is not registered."""


class DuplicateNameError(EvaluatorError, ValueError):
    """Two registrations tried to use the same name."""
