"""Metrics. Importing this package registers the built-in ones."""

from evaluator.metrics.postprocess import truncate_at_stop, truncate_completion
from evaluator.metrics.reference import (
    METRICS,
    METRICS_VERSION,
    exact_match,
    normalize_text,
    prediction_text,
    quasi_exact_match,
    register_metric,
    score_instance,
)

__all__ = [
    "METRICS",
    "METRICS_VERSION",
    "exact_match",
    "normalize_text",
    "prediction_text",
    "quasi_exact_match",
    "register_metric",
    "score_instance",
    "truncate_at_stop",
    "truncate_completion",
]
