"""Aggregation is a pure function of per-instance results."""

from __future__ import annotations

import pytest

from evaluator.results import InstanceResult, efficiency, percentile, score_groups, score_run_specs
from evaluator.specs import ADAPT_MULTIPLE_CHOICE_JOINT, AdapterSpec, RunSpec


def _spec(name: str, group: str) -> RunSpec:
    return RunSpec(
        name=name,
        scenario="mmlu",
        scenario_args=(),
        group=group,
        adapter=AdapterSpec(method=ADAPT_MULTIPLE_CHOICE_JOINT),
    )


def _result(
    spec: str, correct: bool, error: str | None = None, latency: float = 1.0, tokens: int = 1
) -> InstanceResult:
    value = 1.0 if correct else 0.0
    return InstanceResult(
        run_spec=spec,
        instance_id="id0",
        split="test",
        request_key="k",
        completion=" A",
        prediction="x",
        golds=("x",),
        gold_label="A",
        metrics={"exact_match": value, "quasi_exact_match": value},
        correct=correct,
        error=error,
        num_train_instances=5,
        prompt_truncated=False,
        latency_s=None if error else latency,
        generated_tokens=0 if error else tokens,
        cached=False,
    )


def test_run_spec_group_and_overall_means() -> None:
    specs = [_spec("a", "mmlu"), _spec("b", "mmlu"), _spec("c", "gsm")]
    results = [
        _result("a", True),
        _result("a", False),  # 0.5
        _result("b", True),  # 1.0
        _result("c", False, error="ProtocolError: bad"),
        _result("c", True),  # 0.5, one error
    ]
    per_spec = score_run_specs(specs, results)
    assert [per_spec[n].score for n in "abc"] == [0.5, 1.0, 0.5]
    assert per_spec["c"].errors == 1 and per_spec["c"].instances == 2
    groups, overall = score_groups(per_spec)
    assert groups == {"mmlu": 0.75, "gsm": 0.5}
    assert overall == pytest.approx(0.625)


def test_run_spec_without_instances_is_not_scored() -> None:
    per_spec = score_run_specs([_spec("a", "mmlu")], [])
    assert per_spec["a"].score is None
    assert score_groups(per_spec) == ({}, None)


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0.5) == 2.5
    assert percentile(values, 0.95) == pytest.approx(3.85)
    assert percentile([], 0.5) is None


def test_efficiency_skips_failed_requests() -> None:
    figures = efficiency(
        [
            _result("a", True, latency=1.0, tokens=3),
            _result("a", True, latency=3.0, tokens=1),
            _result("a", False, error="TransientError: timeout"),
        ]
    )
    assert figures.requests == 2
    assert figures.latency_p50_s == 2.0
    assert figures.total_inference_s == 4.0
    assert figures.generated_tokens_per_s == 1.0
