"""HELM's core_scenarios column names for a result: group means of the main metric and of the
worst-case robustness and fairness variants."""

from __future__ import annotations

import pytest

from evaluator.results import RunSpecScore
from evaluator.scoring.helm_columns import helm_columns


def _score(name: str, group: str, main: str, **metrics: float) -> RunSpecScore:
    return RunSpecScore(
        name=name,
        group=group,
        main_metric=main,
        score=metrics[main],
        metrics=metrics,
        instances=10,
        errors=0,
    )


def test_columns_are_group_means_under_helms_names() -> None:
    per_spec = {
        s.name: s
        for s in (
            _score("a", "mmlu", "exact_match", **{"exact_match": 0.6, "exact_match@fairness": 0.4}),
            _score("b", "mmlu", "exact_match", **{"exact_match": 0.2, "exact_match@fairness": 0.2}),
            _score("c", "gsm", "final_number_exact_match", final_number_exact_match=0.5),
            _score("d", "summarization", "rouge_2", rouge_2=0.1),
        )
    }
    assert helm_columns(per_spec) == pytest.approx(
        {"MMLU - EM": 0.4, "MMLU - EM (Fairness)": 0.3, "GSM8K - EM": 0.5}
    )
