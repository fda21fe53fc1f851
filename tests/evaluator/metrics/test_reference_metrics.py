"""HELM's reference metrics (evaluate_reference_metrics.py), case by case."""

from __future__ import annotations

import pytest

from evaluator.metrics import (
    exact_match,
    normalize_text,
    prediction_text,
    quasi_exact_match,
    score_instance,
)
from evaluator.metrics.reference import exact_match_indicator, final_number_exact_match


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("B", "B", 1.0),
        (" Paris ", "Paris\n", 1.0),  # both sides stripped
        ("Paris", "paris", 0.0),  # case matters
        ("Paris", "", 0.0),  # an empty prediction never matches
        ("", "", 0.0),
    ],
)
def test_exact_match(gold: str, pred: str, expected: float) -> None:
    assert exact_match(gold, pred) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  A  cat,  an apple  ", "cat apple"),
        ("theater", "theater"),  # articles only as whole words
        ("U.S.A.", "usa"),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_quasi_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert quasi_exact_match("The Paris.", "paris") == 1.0
    assert quasi_exact_match("Paris", "London") == 0.0
    assert quasi_exact_match("Paris", "") == 0.0


def test_prediction_is_stripped_and_mapped_through_labels() -> None:
    mapping = {"A": "Paris", "B": "London"}
    assert prediction_text(" B", mapping) == "London"
    # A label outside the options maps to nothing, which scores 0 (HELM's output_mapping.get).
    assert prediction_text(" M", mapping) is None
    assert prediction_text(" free text ", {}) == "free text"


def test_score_is_best_over_golds_and_zero_without_prediction() -> None:
    assert score_instance(["exact_match"], ["x", "Paris"], "Paris") == {"exact_match": 1.0}
    assert score_instance(["exact_match", "quasi_exact_match"], ["Paris"], None) == {
        "exact_match": 0.0,
        "quasi_exact_match": 0.0,
    }


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("The answer is 15.", "The answer is 15 eggs.", 1.0),  # HELM's docstring example
        ("The answer is 1,000.", "so 1000", 1.0),  # commas dropped
        ("The answer is 18.", "18 then 17", 0.0),  # the last number counts
        ("The answer is -3.", "it is -3", 1.0),
        ("The answer is 2.5.", "2.5", 1.0),
        ("The answer is 7.", "no number", 0.0),
    ],
)
def test_final_number_exact_match(gold: str, pred: str, expected: float) -> None:
    assert final_number_exact_match(gold, pred) == expected


def test_exact_match_indicator_compares_the_last_word() -> None:
    assert exact_match_indicator("so The answer is 4.", "thus The answer is 4.") == 1.0
    assert exact_match_indicator("The answer is 4.", "The answer is 4") == 0.0


def test_f1_score_as_helm() -> None:
    from evaluator.metrics.reference import f1_score

    # HELM's f1_score: nltk f_measure over sets of normalized words (articles, punctuation,
    # case dropped). gold {capital, of, france, paris} vs pred {paris, is, capital}:
    # precision 2/3, recall 2/4, F = 1 / (0.5/(2/3) + 0.5/(1/2)) = 4/7.
    assert f1_score("The capital of France: Paris", "Paris is the capital") == pytest.approx(4 / 7)
    assert f1_score("Paris", "paris.") == 1.0
    # Sets, not bags: repeating a word does not change the score.
    assert f1_score("a b", "b b b") == f1_score("a b", "b")
    assert f1_score("", "x") == 0.0 and f1_score("x", "the") == 0.0
    assert f1_score("x y", "z") == 0.0
