"""Metrics. Importing this package registers the built-in ones."""

from evaluator.metrics import bbq as bbq
from evaluator.metrics import rouge as rouge
from evaluator.metrics.postprocess import truncate_at_stop, truncate_completion
from evaluator.metrics.reference import (
    METRICS,
    METRICS_VERSION,
    exact_match,
    normalize_text,
    prediction_text,
    quasi_exact_match,
    register_metric,
    register_warm_up,
    score_instance,
    warm_metrics,
)
from evaluator.metrics.run_level import (
    RUN_METRICS,
    RunMetric,
    aggregate_run_metrics,
    register_run_metric,
    run_metric_stats,
)

__all__ = [
    "METRICS",
    "METRICS_VERSION",
    "RUN_METRICS",
    "RunMetric",
    "aggregate_run_metrics",
    "exact_match",
    "normalize_text",
    "prediction_text",
    "quasi_exact_match",
    "register_metric",
    "register_run_metric",
    "register_warm_up",
    "run_metric_stats",
    "score_instance",
    "truncate_at_stop",
    "truncate_completion",
    "warm_metrics",
]
