"""Results of an evaluation and the pure functions that score them.

Scoring follows the design: each run spec's score is the mean of its main metric over its
instances (an instance whose request failed counts as wrong); a scenario group's score is the mean
over its run specs; `overall` is the mean of the group scores.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from evaluator.core import TEST_SPLIT, VALID_SPLIT
from evaluator.metrics import RUN_METRICS, aggregate_run_metrics
from evaluator.perturbations import (
    ScoredItem,
    describe_perturbation,
    perturbation_categories,
    worst_case_metrics,
)
from evaluator.specs import RunSpec

#: HELM's main split per scenario (its schema's run groups): the split a run spec's reported
#: metrics are computed on. Instances of the other eval split are still asked, as HELM does,
#: and kept in the per-instance results. TruthfulQA has no test split; everything else reports
#: on test.
MAIN_SPLITS: Mapping[str, str] = {"truthful_qa": VALID_SPLIT}


def main_split(spec: RunSpec) -> str:
    return MAIN_SPLITS.get(spec.scenario, TEST_SPLIT)


@dataclass(frozen=True)
class InstanceResult:
    """What happened to one evaluation instance."""

    # Run spec name.
    run_spec: str
    # Instance id inside its scenario ("id<N>", as in HELM).
    instance_id: str
    # Split the instance came from ("valid" or "test").
    split: str
    # Cache key of its completion request ("" if it failed before a request was formed).
    request_key: str
    # Completion after stop-sequence / max-token truncation; None when the request failed.
    completion: str | None
    # What was scored: the reference text the answer maps to (or the stripped completion).
    prediction: str | None
    # Gold reference texts.
    golds: tuple[str, ...]
    # Gold label as the model should write it (e.g. "B"), when the adapter uses labels.
    gold_label: str | None
    # Metric name -> score for this instance.
    metrics: Mapping[str, float]
    # Whether the main metric is 1.
    correct: bool
    # Error message when the request failed (the instance then scores 0).
    error: str | None
    # In-context examples left in the prompt after window fitting.
    num_train_instances: int
    # Whether the prompt had to be truncated.
    prompt_truncated: bool
    # Client-measured latency of the completion request (None when it failed).
    latency_s: float | None
    # Tokens of the scored completion, estimated from its text (`estimate_generated_tokens`); the
    # server's own token list is never counted, as a server could pad it.
    generated_tokens: int
    # Whether the completion came from the response cache.
    cached: bool
    # Perturbation this version of the instance went through (e.g. "mild_mix"); None for the
    # original. Perturbed versions share the original's instance_id.
    perturbation: str | None = None
    # The perturbation's category, "robustness" or "fairness"; None for the original.
    perturbation_category: str | None = None


@dataclass(frozen=True)
class RunSpecScore:
    """Aggregated metrics of one run spec."""

    # Run spec name.
    name: str
    # Scenario group it is scored under.
    group: str
    # Name of the main metric.
    main_metric: str
    # Mean main metric; None when the run spec had no instances.
    score: float | None
    # Metric name -> mean over instances.
    metrics: Mapping[str, float]
    # Number of instances evaluated (originals; perturbed versions are counted apart).
    instances: int
    # Number of requests that failed (perturbed versions included).
    errors: int
    # Number of perturbed versions evaluated besides the instances (HELM data augmentation).
    perturbed_instances: int = 0
    # HELM's main split, the one the metrics are computed on ("test"; "valid" for TruthfulQA).
    main_split: str = TEST_SPLIT
    # Original instances of the main split: what the metrics average over.
    scored_instances: int = 0
    # The run spec's perturbations as plain data: arguments, resource sha256s, and how each one's
    # output can differ from HELM's ("differs_from_helm"; None when it cannot).
    perturbations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Efficiency:
    """Serving figures over the completions that succeeded (cached ones keep their latency)."""

    # Completions with a result.
    requests: int
    # Of which restored from the cache.
    cached: int
    # Median client-measured latency.
    latency_p50_s: float | None
    # 95th percentile latency.
    latency_p95_s: float | None
    # Sum of latencies: time the server spent on this suite one request at a time.
    total_inference_s: float
    # Tokens generated over all completions, estimated from the scored texts (see
    # `estimate_generated_tokens` and `token_count_method`).
    generated_tokens: int
    # generated_tokens / total_inference_s (independent of the runner's concurrency).
    generated_tokens_per_s: float | None
    # How generated_tokens is counted, for whoever reads the figures.
    token_count_method: str = "estimated: UTF-8 bytes / 4 of each scored completion"


@dataclass(frozen=True)
class SuiteResult:
    """Scores and details of one evaluation of a suite."""

    # Suite name.
    suite_name: str
    # Suite content hash: results are comparable when these match.
    suite_hash: str
    # Evaluator version that produced this result.
    evaluator_version: str
    # Scenario group -> score.
    scores: dict[str, float]
    # Mean of the group scores; None when nothing was scored.
    overall: float | None
    # Run spec name -> aggregated metrics.
    per_run_spec: dict[str, RunSpecScore]
    # Per-instance details, in run spec then selection order.
    instances: tuple[InstanceResult, ...]
    # Number of instances whose request failed.
    errors: int
    # Serving figures.
    efficiency: Efficiency
    # Completion requests sent to the server by this run (cache hits excluded).
    requests_sent: int
    # Wall time of this run.
    wall_s: float
    # Per-run-spec instance cap the run was made with (None: the full suite).
    max_instances: int | None

    def __repr__(self) -> str:
        # A summary: the dataclass repr of thousands of instances took 100 ms, and
        # `asyncio.run` builds it whenever a coroutine returns a result (Python 3.11's
        # Runner.run reprs the SIGINT handler, which holds the main task and so its result).
        return (
            f"SuiteResult(suite_name={self.suite_name!r}, suite_hash={self.suite_hash!r}, "
            f"overall={self.overall!r}, run_specs={len(self.per_run_spec)}, "
            f"instances={len(self.instances)}, errors={self.errors})"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (no NaN, plain dicts and lists)."""
        return {
            "suite_name": self.suite_name,
            "suite_hash": self.suite_hash,
            "evaluator_version": self.evaluator_version,
            "scores": dict(self.scores),
            "overall": self.overall,
            "per_run_spec": {name: asdict(score) for name, score in self.per_run_spec.items()},
            "instances": [_instance_json(instance) for instance in self.instances],
            "errors": self.errors,
            "efficiency": asdict(self.efficiency),
            "requests_sent": self.requests_sent,
            "wall_s": self.wall_s,
            "max_instances": self.max_instances,
        }


_INSTANCE_FIELDS = tuple(f.name for f in fields(InstanceResult))


def _instance_json(instance: InstanceResult) -> dict[str, Any]:
    """`asdict(instance)`, without its generic recursion (a third of a second for the 6,157
    instances of the 2023 open conf): the fields are immutable scalars but for `golds` (a tuple
    of str) and `metrics` (a dict), copied as asdict copies them. A new field that is neither
    must be copied here too (tests/evaluator/test_results_json.py compares with asdict)."""
    out = {name: getattr(instance, name) for name in _INSTANCE_FIELDS}
    out["golds"] = tuple(instance.golds)
    metrics = instance.metrics
    out["metrics"] = dict(metrics) if type(metrics) is dict else copy.deepcopy(metrics)
    return out


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def score_run_specs(
    run_specs: Sequence[RunSpec], instances: Iterable[InstanceResult]
) -> dict[str, RunSpecScore]:
    """Mean of every reference metric per run spec, plus the values of its run-level metrics;
    failed instances score 0 on every metric."""
    by_spec: dict[str, list[InstanceResult]] = {spec.name: [] for spec in run_specs}
    for instance in instances:
        by_spec[instance.run_spec].append(instance)
    scores: dict[str, RunSpecScore] = {}
    for spec in run_specs:
        # As in HELM, a run spec's metrics are over its original instances of the main split;
        # perturbed versions only enter the worst-case "<metric>@robustness" /
        # "<metric>@fairness" metrics (also on the main split).
        split = main_split(spec)
        asked = by_spec[spec.name]
        everything = [m for m in asked if m.split == split]
        members = [m for m in everything if m.perturbation is None]
        metrics: dict[str, float] = {}
        for metric in spec.metrics:
            if metric in RUN_METRICS:
                continue
            mean = _mean([m.metrics.get(metric, 0.0) for m in members])
            if mean is not None:
                metrics[metric] = mean
        metrics.update(aggregate_run_metrics(spec.metrics, [m.metrics for m in members]))
        metrics.update(_worst_case(spec, everything))
        pins = dict(spec.data_files)
        scores[spec.name] = RunSpecScore(
            name=spec.name,
            group=spec.group,
            main_metric=spec.main_metric,
            score=metrics.get(spec.main_metric),
            metrics=metrics,
            instances=sum(1 for m in asked if m.perturbation is None),
            errors=sum(1 for m in asked if m.error is not None),
            perturbed_instances=sum(1 for m in asked if m.perturbation is not None),
            main_split=split,
            scored_instances=len(members),
            perturbations=tuple(describe_perturbation(p, pins) for p in spec.perturbations),
        )
    return scores


def _worst_case(spec: RunSpec, results: Sequence[InstanceResult]) -> dict[str, float]:
    """HELM's worst-case metrics over the run spec's perturbation categories (per-instance
    metrics only: run-level ones have no per-instance value to take a minimum of)."""
    if not spec.perturbations:
        return {}
    return worst_case_metrics(
        [metric for metric in spec.metrics if metric not in RUN_METRICS],
        perturbation_categories(spec.perturbations),
        (ScoredItem(r.instance_id, r.perturbation_category, r.metrics) for r in results),
    )


def score_groups(per_run_spec: Mapping[str, RunSpecScore]) -> tuple[dict[str, float], float | None]:
    """(group -> mean run spec score, mean of group scores)."""
    by_group: dict[str, list[float]] = {}
    for score in per_run_spec.values():
        if score.score is not None:
            by_group.setdefault(score.group, []).append(score.score)
    groups = {group: math.fsum(values) / len(values) for group, values in by_group.items()}
    return groups, _mean(list(groups.values()))


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), on pre-sorted values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


def estimate_generated_tokens(completion: str, max_tokens: int) -> int:
    """Tokens of a scored completion, estimated as ceil(UTF-8 bytes / 4), at most `max_tokens`.

    Why an estimate from the text: the server's own `tokens` list is self-reported (padding it
    with empty tokens once gave 5,138 tokens/s against an honest 19), and asking the server's
    /tokenize would cost a request per instance and still be the server's word. Four bytes per
    token is the usual figure for BPE vocabularies on English; one rule for every team keeps the
    column comparable. The text counted is the scored one (cut at stop sequences and max_tokens),
    so text the server adds past a stop sequence counts for nothing, and no completion counts
    for more than the `max_tokens` the request allowed.
    """
    return min(max_tokens, -(-len(completion.encode("utf-8")) // 4))


def efficiency(instances: Iterable[InstanceResult]) -> Efficiency:
    succeeded = [i for i in instances if i.error is None and i.latency_s is not None]
    latencies = sorted(i.latency_s for i in succeeded if i.latency_s is not None)
    total = math.fsum(latencies)
    tokens = sum(i.generated_tokens for i in succeeded)
    return Efficiency(
        requests=len(succeeded),
        cached=sum(1 for i in succeeded if i.cached),
        latency_p50_s=percentile(latencies, 0.5),
        latency_p95_s=percentile(latencies, 0.95),
        total_inference_s=total,
        generated_tokens=tokens,
        generated_tokens_per_s=tokens / total if total > 0 else None,
    )
