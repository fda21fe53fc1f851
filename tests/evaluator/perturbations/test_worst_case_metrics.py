"""Worst-case aggregation (HELM's compute_worst_case_metrics) and its place in run spec scores."""

from __future__ import annotations

import pytest

from evaluator.perturbations import (
    AUGMENTATION_PINS,
    FAIRNESS,
    ROBUSTNESS,
    ScoredItem,
    canonical_perturbations,
    worst_case_metrics,
)
from evaluator.perturbations.augmentation import mild_mix
from evaluator.results import InstanceResult, score_run_specs
from evaluator.specs import ADAPT_MULTIPLE_CHOICE_JOINT, AdapterSpec, RunSpec


def _item(instance_id: str, category: str | None, em: float) -> ScoredItem:
    return ScoredItem(instance_id, category, {"exact_match": em})


def test_minimum_over_original_and_category_then_mean() -> None:
    items = [
        # id1: right everywhere.
        _item("id1", None, 1.0),
        _item("id1", ROBUSTNESS, 1.0),
        _item("id1", FAIRNESS, 1.0),
        # id2: wrong under robustness only.
        _item("id2", None, 1.0),
        _item("id2", ROBUSTNESS, 0.0),
        _item("id2", FAIRNESS, 1.0),
        # id3: no perturbation changed it: its original alone decides both.
        _item("id3", None, 1.0),
        # id4: wrong originally, right perturbed: the worst case is still wrong.
        _item("id4", None, 0.0),
        _item("id4", FAIRNESS, 1.0),
        _item("id4", FAIRNESS, 1.0),
    ]
    result = worst_case_metrics(["exact_match"], [ROBUSTNESS, FAIRNESS], items)
    assert result == {
        "exact_match@robustness": pytest.approx(2 / 4),  # id1, id3
        "exact_match@fairness": pytest.approx(3 / 4),  # id1, id2, id3
    }


def test_one_bad_version_among_several_counts() -> None:
    items = [
        _item("id1", None, 1.0),
        _item("id1", FAIRNESS, 1.0),
        _item("id1", FAIRNESS, 0.0),
        _item("id1", FAIRNESS, 1.0),
    ]
    assert worst_case_metrics(["exact_match"], [FAIRNESS], items) == {"exact_match@fairness": 0.0}


def test_categories_not_asked_for_are_not_reported() -> None:
    items = [_item("id1", None, 1.0), _item("id1", ROBUSTNESS, 0.0)]
    assert worst_case_metrics(["exact_match"], [ROBUSTNESS], items) == {
        "exact_match@robustness": 0.0
    }
    assert worst_case_metrics(["exact_match"], [], items) == {}
    assert worst_case_metrics(["exact_match"], [ROBUSTNESS], []) == {}


def _spec(perturbations: bool) -> RunSpec:
    return RunSpec(
        name="mmlu:x",
        scenario="mmlu",
        scenario_args=(),
        group="mmlu",
        adapter=AdapterSpec(method=ADAPT_MULTIPLE_CHOICE_JOINT),
        perturbations=canonical_perturbations() if perturbations else (),
        data_files=tuple(AUGMENTATION_PINS.items()),
    )


def _result(
    instance_id: str, correct: bool, perturbation: str | None = None, error: str | None = None
) -> InstanceResult:
    value = 1.0 if correct else 0.0
    category = {None: None, "mild_mix": ROBUSTNESS}.get(perturbation, FAIRNESS)
    return InstanceResult(
        run_spec="mmlu:x",
        instance_id=instance_id,
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
        latency_s=1.0,
        generated_tokens=1,
        cached=False,
        perturbation=perturbation,
        perturbation_category=category,
    )


def test_run_spec_score_is_over_originals_with_worst_cases_beside() -> None:
    results = [
        _result("id1", True),
        _result("id1", False, "mild_mix"),
        _result("id1", True, "dialect"),
        _result("id2", True),
        _result("id2", True, "mild_mix"),
        _result("id2", False, "gender", error="ProtocolError: bad"),
        _result("id3", False),
        _result("id3", True, "mild_mix"),
    ]
    score = score_run_specs([_spec(True)], results)["mmlu:x"]
    assert score.score == pytest.approx(2 / 3)
    assert score.metrics == {
        "exact_match": pytest.approx(2 / 3),
        "quasi_exact_match": pytest.approx(2 / 3),
        "exact_match@robustness": pytest.approx(1 / 3),  # id2
        "quasi_exact_match@robustness": pytest.approx(1 / 3),
        "exact_match@fairness": pytest.approx(1 / 3),  # id1
        "quasi_exact_match@fairness": pytest.approx(1 / 3),
    }
    assert (score.instances, score.perturbed_instances, score.errors) == (3, 5, 1)
    assert [p["name"] for p in score.perturbations] == [
        "mild_mix",
        "dialect",
        "gender",
        "person_name",
    ]


def test_run_spec_without_perturbations_reports_what_it_did() -> None:
    score = score_run_specs([_spec(False)], [_result("id1", True)])["mmlu:x"]
    assert score.metrics == {"exact_match": 1.0, "quasi_exact_match": 1.0}
    assert (score.perturbed_instances, score.perturbations) == (0, ())


def test_robustness_only_run_spec_has_no_fairness_figure() -> None:
    spec = RunSpec(
        name="mmlu:x",
        scenario="mmlu",
        scenario_args=(),
        group="mmlu",
        adapter=AdapterSpec(method=ADAPT_MULTIPLE_CHOICE_JOINT),
        perturbations=(mild_mix(),),
    )
    score = score_run_specs([spec], [_result("id1", True), _result("id1", False, "mild_mix")])
    assert sorted(score["mmlu:x"].metrics) == [
        "exact_match",
        "exact_match@robustness",
        "quasi_exact_match",
        "quasi_exact_match@robustness",
    ]
