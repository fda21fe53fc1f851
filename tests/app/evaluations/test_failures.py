"""The one mapping from evaluator errors to failure reasons."""

from __future__ import annotations

import pytest

import evaluator
from app.evaluations.failures import failure_reason
from app.submissions.models import FailureReason as R


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (evaluator.EvaluationError("x", reason="eval_timeout"), R.eval_timeout),
        (evaluator.EvaluationError("x", reason="protocol_error"), R.protocol_error),
        (evaluator.EvaluationError("x", reason="server_unreachable"), R.protocol_error),
        (evaluator.EvaluationError("x", reason="something new"), R.protocol_error),
        (evaluator.ProtocolError("bad json"), R.protocol_error),
        (evaluator.StartTimeout("slow"), R.start_timeout),
        (evaluator.TransientError("reset"), R.protocol_error),
        (evaluator.DataIntegrityError("f", "a", "b"), R.internal_error),
        (evaluator.EvaluatorError("?"), R.internal_error),
    ],
)
def test_mapping(error: evaluator.EvaluatorError, reason: R) -> None:
    assert failure_reason(error) is reason
