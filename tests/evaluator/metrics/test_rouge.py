"""ROUGE as HELM computes it: rouge-score with the Porter stemmer, F-measure, best reference."""

from __future__ import annotations

import pytest

from evaluator.metrics import score_instance
from evaluator.metrics.rouge import rouge_1, rouge_2, rouge_l


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        # Identical texts: every bigram matches.
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        # 5 bigrams each side, 3 shared (the cat, cat sat, sat on): P = R = F = 0.6.
        ("the cat sat on the mat", "the cat sat on a mat", 0.6),
        # P = 2/2, R = 2/5: F = 2 * 1 * 0.4 / 1.4.
        ("the cat sat on the mat", "the cat sat", 2 * 0.4 / 1.4),
        # use_stemmer=True: "running" -> "run", "dogs" -> "dog" (tokens over 3 characters).
        ("running dogs", "run dog", 1.0),
        # The tokenizer lowercases and drops non-alphanumerics (so HELM's brace stripping is moot).
        ("Hello, World!", "{hello world}", 1.0),
        # One word has no bigram: 0, as in HELM.
        ("cat", "cat", 0.0),
        ("the cat sat", "", 0.0),
    ],
)
def test_rouge_2(gold: str, pred: str, expected: float) -> None:
    assert rouge_2(gold, pred) == pytest.approx(expected)


def test_rouge_1_and_l() -> None:
    # Unigrams: 5 of 6 shared ("the" twice in gold, once in pred counts once).
    assert rouge_1("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(5 / 6)
    # Longest common subsequence "the cat sat on mat": 5 of 6 tokens.
    assert rouge_l("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(5 / 6)


def test_best_reference_counts() -> None:
    # HELM's SummarizationMetric: np.max over the references.
    scores = score_instance(
        ["rouge_2"], ["a totally different summary", "the cat sat on the mat"], "the cat sat"
    )
    assert scores == {"rouge_2": pytest.approx(2 * 0.4 / 1.4)}
