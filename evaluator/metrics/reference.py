"""Reference-based metrics with HELM's definitions (evaluate_reference_metrics.py).

A metric compares one gold text with one prediction. Over several gold references the instance
score is the best one, as HELM's `max(score(gold, pred) for gold in golds)`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence

from evaluator.metrics.run_level import RUN_METRICS
from evaluator.registry import Registry

# Bump when any metric below changes its value for the same input.
# 2: run spec scores are over HELM's main split only (test; valid for TruthfulQA).
METRICS_VERSION = "2"

MetricFn = Callable[[str, str], float]

METRICS: Registry[MetricFn] = Registry("metric")
register_metric = METRICS.register

# Metric name -> what loads its dependencies (a package imported on first use, a scorer built).
_WARM_UPS: dict[str, Callable[[], object]] = {}


def register_warm_up(names: Sequence[str], warm_up: Callable[[], object]) -> None:
    """`warm_up` loads what the metrics `names` import or build lazily, so that a run can do it
    beside the event loop instead of on it (`warm_metrics`)."""
    for name in names:
        _WARM_UPS[name] = warm_up


def warm_metrics(metric_names: Iterable[str]) -> None:
    """Load now what these metrics would load on their first score (each warm-up runs once:
    they are cached). The runner calls it from its planning thread: importing rouge-score (numpy,
    nltk) on the event loop stopped every answer for 0.4-1 s."""
    for warm_up in dict.fromkeys(_WARM_UPS[n] for n in metric_names if n in _WARM_UPS):
        warm_up()


_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(text: str, remove_articles: bool = True) -> str:
    """HELM's normalize_text (from the QuAC scorer): lower, drop punctuation and articles,
    collapse whitespace."""
    normalized = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    if remove_articles:
        normalized = _ARTICLES.sub(" ", normalized)
    return " ".join(normalized.split())


@register_metric("exact_match")
def exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0.0
    return 1.0 if gold.strip() == pred.strip() else 0.0


@register_metric("quasi_exact_match")
def quasi_exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0.0
    return 1.0 if normalize_text(gold) == normalize_text(pred) else 0.0


@register_metric("prefix_exact_match")
def prefix_exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0.0
    return 1.0 if pred.strip().startswith(gold.strip()) else 0.0


@register_metric("quasi_prefix_exact_match")
def quasi_prefix_exact_match(gold: str, pred: str) -> float:
    if not pred:
        return 0.0
    return 1.0 if normalize_text(pred).startswith(normalize_text(gold)) else 0.0


@register_metric("f1_score")
def f1_score(gold: str, pred: str) -> float:
    """HELM's f1_score: nltk's f_measure (alpha 0.5) over the *sets* of normalized words, so a
    repeated word counts once; 0.0 when either side is empty after normalizing."""
    gold_words = set(normalize_text(gold).split())
    pred_words = set(normalize_text(pred).split())
    if not gold_words or not pred_words:
        return 0.0
    common = len(gold_words & pred_words)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_words), common / len(gold_words)
    return 1.0 / (0.5 / precision + 0.5 / recall)


@register_metric("exact_match_indicator")
def exact_match_indicator(gold: str, pred: str, indicator: str = " ") -> float:
    """Exact match of what follows the last `indicator` (HELM: the last word)."""
    return exact_match(gold.split(indicator)[-1].strip(), pred.split(indicator)[-1].strip())


# HELM's pattern, unescaped "." included: "1.5" and "1x5" both read as one number.
_NUMBER = re.compile(r"-?[\d,]+(?:.\d+)?")


def _final_number(text: str) -> str:
    matches = _NUMBER.findall(text)
    return matches[-1].replace(",", "") if matches else ""


@register_metric("final_number_exact_match")
def final_number_exact_match(gold: str, pred: str) -> float:
    """1 iff the last numbers of gold and prediction are equal as text (commas removed)."""
    return exact_match(_final_number(gold), _final_number(pred))


def prediction_text(completion: str, output_mapping: Mapping[str, str]) -> str | None:
    """The prediction scored against the golds, as HELM derives it from a completion: stripped,
    then mapped through the output mapping when there is one (a label outside the mapping yields
    None, which scores 0)."""
    prediction = completion.strip()
    if output_mapping:
        return output_mapping.get(prediction)
    return prediction


def score_instance(
    metric_names: Sequence[str], golds: Sequence[str], prediction: str | None
) -> dict[str, float]:
    """Each reference metric's best score over the gold references (0 for a missing prediction);
    run-level metrics in `metric_names` are left to `run_metric_stats`."""
    scores: dict[str, float] = {}
    for name in metric_names:
        if name in RUN_METRICS:
            continue
        fn = METRICS.get(name)
        if prediction is None or not golds:
            scores[name] = 0.0
        else:
            scores[name] = max(fn(gold, prediction) for gold in golds)
    return scores
