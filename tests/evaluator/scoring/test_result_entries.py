"""From a suite result to a leaderboard entry: scenario scores reused from the runner's
aggregation, extra columns on request."""

from __future__ import annotations

import pytest

from evaluator.results import RunSpecScore, SuiteResult, efficiency
from evaluator.scoring import (
    entry_from_result,
    is_scenario_score,
    metric_key,
    rank_entries,
    scenario_of,
    score_groups,
)


def _spec(name: str, group: str, main: float, robustness: float | None = None) -> RunSpecScore:
    metrics = {"exact_match": main, "quasi_exact_match": main}
    if robustness is not None:
        metrics["exact_match@robustness"] = robustness
    return RunSpecScore(
        name=name,
        group=group,
        main_metric="exact_match",
        score=main,
        metrics=metrics,
        instances=10,
        errors=0,
    )


def _result(*specs: RunSpecScore) -> SuiteResult:
    per_run_spec = {spec.name: spec for spec in specs}
    scores, overall = score_groups(per_run_spec)
    return SuiteResult(
        suite_name="s",
        suite_hash="h",
        evaluator_version="0",
        scores=scores,
        overall=overall,
        per_run_spec=per_run_spec,
        instances=(),
        errors=0,
        efficiency=efficiency([]),
        requests_sent=0,
        wall_s=0.0,
        max_instances=None,
    )


def test_entry_holds_scenario_scores_and_requested_extra_columns() -> None:
    result = _result(
        _spec("mmlu:a", "mmlu", 0.4, robustness=0.2),
        _spec("mmlu:b", "mmlu", 0.8, robustness=0.4),
        _spec("gsm", "gsm", 0.1),
    )
    entry = entry_from_result("sub-1", result, extra_metrics=["exact_match@robustness"])
    assert entry.id == "sub-1" and not entry.is_baseline
    assert dict(entry.metrics) == pytest.approx(
        {"mmlu": 0.6, "gsm": 0.1, "mmlu/exact_match@robustness": 0.3}
    )
    # quasi_exact_match was not asked for, so it is not a ranking column.
    assert "mmlu/quasi_exact_match" not in entry.metrics


def test_entries_from_results_rank() -> None:
    good = entry_from_result("good", _result(_spec("m", "mmlu", 0.7), _spec("g", "gsm", 0.5)))
    bad = entry_from_result("bad", _result(_spec("m", "mmlu", 0.3)), is_baseline=True)
    ranking = rank_entries([bad, good], "mean")
    assert [(e.id, e.score) for e in ranking.entries] == [("good", 0.6), ("bad", None)]
    assert rank_entries([bad, good]).ids == ["good", "bad"]


def test_metric_keys() -> None:
    assert metric_key("mmlu") == "mmlu"
    assert metric_key("mmlu", "robustness") == "mmlu/robustness"
    assert scenario_of("mmlu/robustness") == "mmlu" and scenario_of("mmlu") == "mmlu"
    assert is_scenario_score("mmlu") and not is_scenario_score("mmlu/robustness")
    with pytest.raises(ValueError):
        metric_key("a/b")
