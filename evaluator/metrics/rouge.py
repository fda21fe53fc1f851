"""ROUGE as HELM computes it (evaluate_reference_metrics.get_rouge_function, used by
SummarizationMetric): Google's `rouge-score` package with the Porter stemmer on
(`RougeScorer([type], use_stemmer=True)`), F-measure of the stripped completion against a reference;
`score_instance` takes the best over the references, as HELM's `np.max` over references.
SummarizationMetric also strips one leading "{" and trailing "}" from both texts; rouge-score's
tokenizer drops every non-alphanumeric character anyway, so that step changes nothing here.

`rouge-score` pulls in numpy and nltk, which `import evaluator` must not load (the API process
imports the evaluator for suite metadata), so the package is imported on first use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from evaluator.metrics.reference import register_metric, register_warm_up


@cache
def _scorer(rouge_type: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)


_TYPES = ("rouge1", "rouge2", "rougeL")


def _warm_up() -> None:
    for rouge_type in _TYPES:
        _scorer(rouge_type)


register_warm_up(("rouge_1", "rouge_2", "rouge_l"), _warm_up)


def rouge_f_measure(rouge_type: str, gold: str, pred: str) -> float:
    """F-measure of `pred` against `gold` for a rouge-score type ("rouge1", "rouge2", "rougeL")."""
    score = _scorer(rouge_type).score(gold, pred)[rouge_type]
    return float(score.fmeasure)


@register_metric("rouge_1")
def rouge_1(gold: str, pred: str) -> float:
    return rouge_f_measure("rouge1", gold, pred)


@register_metric("rouge_2")
def rouge_2(gold: str, pred: str) -> float:
    return rouge_f_measure("rouge2", gold, pred)


@register_metric("rouge_l")
def rouge_l(gold: str, pred: str) -> float:
    return rouge_f_measure("rougeL", gold, pred)
