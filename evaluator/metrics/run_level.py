"""Run-level metrics: values defined over a whole run rather than averaged per instance (HELM's
`evaluate_instances` metrics, such as BBQMetric).

Such a metric is split into mergeable parts, so scores can be recomputed from stored per-instance
results alone:

- `instance_stats(instance, completion)`: numbers for one instance (counts, usually 0 or 1), stored
  with its other metrics;
- `aggregate(totals)`: the reported values from the sums of those numbers over the run.

A run spec lists a run-level metric by name in `metrics`, next to its reference metrics, as a HELM
run spec lists BBQMetric next to the exact-match metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from evaluator.core import Instance
from evaluator.registry import Registry


class RunMetric(Protocol):
    """A metric over a run, computed from per-instance statistics."""

    # Names of the per-instance statistics `instance_stats` returns.
    @property
    def stat_names(self) -> tuple[str, ...]: ...

    def instance_stats(self, instance: Instance, completion: str | None) -> dict[str, float]:
        """Statistics of one instance; `completion` is None when its request failed."""
        ...

    def aggregate(self, totals: Mapping[str, float]) -> dict[str, float]:
        """Reported values from the per-run sums of the statistics."""
        ...


RUN_METRICS: Registry[RunMetric] = Registry("run metric")
register_run_metric = RUN_METRICS.register


def run_metric_stats(
    metric_names: Sequence[str], instance: Instance, completion: str | None
) -> dict[str, float]:
    """Per-instance statistics of every run-level metric in `metric_names`."""
    stats: dict[str, float] = {}
    for name in metric_names:
        if name in RUN_METRICS:
            stats.update(RUN_METRICS.get(name).instance_stats(instance, completion))
    return stats


def aggregate_run_metrics(
    metric_names: Sequence[str], instance_metrics: Sequence[Mapping[str, float]]
) -> dict[str, float]:
    """Values of every run-level metric in `metric_names` over a run's per-instance metrics (a
    missing statistic, e.g. of a failed instance, counts 0); empty for a run without instances."""
    values: dict[str, float] = {}
    if not instance_metrics:
        return values
    for name in metric_names:
        if name not in RUN_METRICS:
            continue
        metric = RUN_METRICS.get(name)
        totals = {
            stat: math.fsum(metrics.get(stat, 0.0) for metrics in instance_metrics)
            for stat in metric.stat_names
        }
        values.update(metric.aggregate(totals))
    return values
