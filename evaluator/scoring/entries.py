"""Leaderboard entries: one evaluated submission's metric columns, ready to rank.

A metric key names a column: `"<scenario>"` is the scenario's score (the mean of its run specs'
main metrics, as `SuiteResult.scores` has it); `"<scenario>/<metric>"` is an extra column of that
scenario, such as `"mmlu/robustness"`. Win-rate scoring averages every column of a scenario;
mean scoring uses only the scenario's score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from evaluator.results import RunSpecScore, SuiteResult

SEPARATOR = "/"


def metric_key(scenario: str, metric: str | None = None) -> str:
    """Column key of `scenario`'s score, or of one of its extra metrics."""
    if SEPARATOR in scenario:
        raise ValueError(f"scenario name {scenario!r} may not contain {SEPARATOR!r}")
    return scenario if metric is None else f"{scenario}{SEPARATOR}{metric}"


def scenario_of(key: str) -> str:
    """Scenario a column key belongs to."""
    return key.split(SEPARATOR, 1)[0]


def is_scenario_score(key: str) -> bool:
    """Whether `key` is a scenario's own score rather than an extra column."""
    return SEPARATOR not in key


@dataclass(frozen=True)
class Entry:
    """One competitor in a leaderboard stage (a team's submission, or a baseline)."""

    # Stable id (submission id, or a baseline's name); unique within a stage.
    id: str
    # Column key -> value (higher is better unless the ranking says otherwise). None or NaN
    # means the metric is missing: it ranks below every value that exists.
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    # Baselines (e.g. the unfinetuned reference model) can be left out of the pool.
    is_baseline: bool = False

    def __post_init__(self) -> None:
        # Frozen means frozen: a caller mutating its dict afterwards must not change a ranking.
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))

    def value(self, key: str) -> float | None:
        """The column's value, None when missing (absent, None or NaN)."""
        value = self.metrics.get(key)
        if value is None or math.isnan(value):
            return None
        return float(value)


def entry_from_result(
    entry_id: str,
    result: SuiteResult,
    *,
    extra_metrics: Iterable[str] = (),
    is_baseline: bool = False,
) -> Entry:
    """An entry holding `result`'s scenario scores, plus, for each metric name in
    `extra_metrics` that a scenario's run specs computed (e.g. "exact_match@robustness"), a
    `"<scenario>/<metric>"` column: the mean over the scenario's run specs that have it."""
    metrics: dict[str, float | None] = {
        metric_key(scenario): score for scenario, score in result.scores.items()
    }
    metrics.update(extra_columns(result.per_run_spec.values(), extra_metrics))
    return Entry(id=entry_id, metrics=metrics, is_baseline=is_baseline)


def extra_columns(
    per_run_spec: Iterable[RunSpecScore], extra_metrics: Iterable[str]
) -> dict[str, float]:
    """`"<scenario>/<metric>"` -> mean of `metric` over the scenario's run specs that have it."""
    wanted = list(extra_metrics)
    values: dict[str, list[float]] = {}
    for score in per_run_spec:
        for metric in wanted:
            if metric in score.metrics:
                values.setdefault(metric_key(score.group, metric), []).append(score.metrics[metric])
    return {key: math.fsum(v) / len(v) for key, v in values.items()}
