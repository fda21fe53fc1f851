"""Worst-case metrics over perturbations: HELM's `compute_worst_case_metrics` (metrics/metric.py).

For each instance and metric, HELM takes the minimum of the metric over the original instance and
every perturbed version in a category; the run's figure is the mean of that minimum over instances.
The result is what HELM's leaderboard shows as "EM (Robustness)" and "EM (Fairness)":

    HELM                                    Podium (RunSpecScore.metrics)
    exact_match                             exact_match             (original instances only)
    exact_match, perturbation=robustness,   exact_match@robustness
      computed_on=worst  ("EM (Robustness)")
    exact_match, perturbation=fairness,     exact_match@fairness
      computed_on=worst  ("EM (Fairness)")

and likewise for every other metric of the run spec (quasi_exact_match@robustness, ...).

An instance whose perturbations of a category all left it unchanged (HELM skips such copies) has
only its original in that minimum, as in HELM. Unlike HELM, which reports both categories for every
run, a category is reported only for run specs with a perturbation in it: a "fairness" figure for a
run that had no fairness perturbation would merely repeat the original score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredItem:
    """One scored request, as the worst-case computation needs it."""

    # Id shared by an instance and its perturbed versions.
    instance_id: str
    # None for the original, else the perturbation's category ("robustness" / "fairness").
    category: str | None
    # Metric name -> value.
    metrics: Mapping[str, float]


def worst_case_name(metric: str, category: str) -> str:
    """The name of `metric`'s worst case over `category`, e.g. "exact_match@robustness"."""
    return f"{metric}@{category}"


def worst_case_metrics(
    metric_names: Sequence[str], categories: Sequence[str], items: Iterable[ScoredItem]
) -> dict[str, float]:
    """`"<metric>@<category>"` -> mean over instances of the worst value among the instance's
    original and its perturbed versions of that category."""
    originals: dict[str, Mapping[str, float]] = {}
    perturbed: dict[str, dict[str, list[Mapping[str, float]]]] = {}
    for item in items:
        if item.category is None:
            originals[item.instance_id] = item.metrics
        else:
            by_category = perturbed.setdefault(item.instance_id, {})
            by_category.setdefault(item.category, []).append(item.metrics)
    instance_ids = list(dict.fromkeys([*originals, *perturbed]))
    result: dict[str, float] = {}
    for category in categories:
        for metric in metric_names:
            worst: list[float] = []
            for instance_id in instance_ids:
                versions = perturbed.get(instance_id, {}).get(category, [])
                values = [m.get(metric, 0.0) for m in versions]
                if instance_id in originals:
                    values.append(originals[instance_id].get(metric, 0.0))
                if values:
                    worst.append(min(values))
            if worst:
                result[worst_case_name(metric, category)] = math.fsum(worst) / len(worst)
    return result
