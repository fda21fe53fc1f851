"""How an evaluation ends badly: the one mapping from evaluator errors to failure reasons.

The evaluator imports nothing of ours, so its errors carry their cause as a class (and, for
`EvaluationError`, as its documented `reason`). This module is the only place that turns them
into the service's `FailureReason`; flows never compare reason strings.
"""

from __future__ import annotations

from collections.abc import Mapping

import evaluator
from app.submissions.models import FailureReason

R = FailureReason


class EvaluationFailed(Exception):
    """Ends an evaluation with a reason code and a message the team can act on."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# `EvaluationError.reason`, as evaluator/errors.py documents it. A server that kept failing at
# the transport level while its container still runs broke the protocol (a dead one is reported
# as `crashed` by the flow, which checks the container first).
_EVALUATION_ERROR_REASONS: Mapping[str, FailureReason] = {
    "protocol_error": R.protocol_error,
    "server_unreachable": R.protocol_error,
    "eval_timeout": R.eval_timeout,
}

# Checked in order, most specific first.
_BY_CLASS: tuple[tuple[type[evaluator.EvaluatorError], FailureReason], ...] = (
    (evaluator.StartTimeout, R.start_timeout),
    (evaluator.ProtocolError, R.protocol_error),
    (evaluator.TransientError, R.protocol_error),
    (evaluator.DataIntegrityError, R.internal_error),
)


def failure_reason(exc: evaluator.EvaluatorError) -> FailureReason:
    """The failure reason an evaluator error stands for."""
    if isinstance(exc, evaluator.EvaluationError):
        return _EVALUATION_ERROR_REASONS.get(exc.reason, R.protocol_error)
    for cls, reason in _BY_CLASS:
        if isinstance(exc, cls):
            return reason
    return R.internal_error
