"""The 2023 organizers' ranking arithmetic (`neurips2023`), pinned by hand-worked boards.

Each expected number is worked out in the comment above it from the rules in
`evaluator/scoring/leaderboard.py`'s module doc (their rank_submissions.py / combin_ranks.py).
"""

from __future__ import annotations

import math

import pytest

from evaluator.scoring import Entry, Stage, rank_stages
from evaluator.scoring.leaderboard import SMALLEST_POSITIVE, organizer_win_rates, win_rates


def test_strict_wins_plus_one_over_c_divided_by_n() -> None:
    # n = 4; D is missing (counts as 0.0). Worst first: D=0.0, B=C=0.5 (c=2), A=0.9.
    #   A: beats 3 -> 3/4; B, C: beat D (1) + 1/2 -> 1.5/4; D: beats none, shares nothing -> 0.
    rates = organizer_win_rates({"A": 0.9, "B": 0.5, "C": 0.5, "D": None})
    assert rates == {"A": 0.75, "B": 0.375, "C": 0.375, "D": 0.0}


def test_three_way_tie_gets_one_third_over_n() -> None:
    # c = n = 3 all equal: each gets 1/c = 1/3, divided by n = 3 -> 1/9.
    assert organizer_win_rates({"a": 1.0, "b": 1.0, "c": 1.0}) == pytest.approx(
        {"a": 1 / 9, "b": 1 / 9, "c": 1 / 9}
    )


def test_missing_value_ties_with_a_real_zero() -> None:
    # Missing counts as 0.0, so it ties with an entry that really scored 0.0 (c = 2).
    #   x=0.5 beats 2 -> 2/3; y=0.0 and z=missing: 0 + 1/2 -> 1/6 each.
    assert organizer_win_rates({"x": 0.5, "y": 0.0, "z": None}) == pytest.approx(
        {"x": 2 / 3, "y": 1 / 6, "z": 1 / 6}
    )


def test_lower_is_better_missing_counts_as_1000() -> None:
    # latency: p=0.2 beats q=0.9 and the missing r (1000.0): 2/3; q beats r: 1/3; r: 0.
    rates = organizer_win_rates({"p": 0.2, "q": 0.9, "r": None}, lower_is_better=True)
    assert rates == pytest.approx({"p": 2 / 3, "q": 1 / 3, "r": 0.0})


def test_differs_from_podiums_cleaned_up_winrate() -> None:
    # The cleaned-up rule divides by the n-1 others and counts ties half: B, C get 1.5/3.
    values = {"A": 0.9, "B": 0.5, "C": 0.5, "D": None}
    assert win_rates(values)["B"] == pytest.approx(0.5)
    assert organizer_win_rates(values)["B"] == pytest.approx(0.375)


def test_stage_groups_means_geometric_mean_and_zero_floor() -> None:
    groups = {"Accuracy": ["acc1", "acc2"], "Robustness": ["rob"]}
    entries = [
        Entry("e1", {"acc1": 0.8, "acc2": 0.1, "rob": 0.7}),
        Entry("e2", {"acc1": 0.6, "acc2": 0.3, "rob": 0.7}),
        Entry("e3", {"acc1": 0.2, "acc2": 0.2}),  # rob missing -> 0.0
    ]
    ranking = rank_stages([Stage("open", 1.0, entries, groups=groups)], "neurips2023")
    # acc1: e1 2/3, e2 1/3, e3 0.   acc2: e2 2/3, e3 1/3, e1 0.
    # rob: e1 = e2 = 0.7 (c=2): 1 + 1/2 = 1.5/3 = 0.5 each; e3: 0.
    # Accuracy: e1 = (2/3 + 0)/2 = 1/3, e2 = (1/3 + 2/3)/2 = 1/2, e3 = (0 + 1/3)/2 = 1/6.
    # Stage: e1 = sqrt(1/3 * 1/2), e2 = sqrt(1/2 * 1/2) = 1/2, e3 = sqrt(1/6 * eps).
    e1, e2, e3 = (ranking[i] for i in ("e1", "e2", "e3"))
    assert e1.stages["open"].per_scenario == pytest.approx({"Accuracy": 1 / 3, "Robustness": 0.5})
    assert e2.score == pytest.approx(0.5)
    assert e1.score == pytest.approx(math.sqrt(1 / 6))
    assert e3.score == pytest.approx(math.sqrt(1 / 6 * SMALLEST_POSITIVE), rel=1e-9)
    assert e3.score is not None and e3.score > 0
    assert ranking.ids == ["e2", "e1", "e3"]


def test_final_is_one_third_open_plus_two_thirds_hidden() -> None:
    groups = {"G": ["m"]}
    open_stage = Stage("open", 1 / 3, [Entry("a", {"m": 1.0}), Entry("b", {"m": 0.0})], groups)
    hidden = Stage("hidden", 2 / 3, [Entry("a", {"m": 0.0}), Entry("b", {"m": 1.0})], groups)
    ranking = rank_stages([open_stage, hidden], "neurips2023")
    # Each stage: the winner beats 1 of n=2 -> 1/2; the loser 0 -> eps.
    # a = 1/3 * 1/2 + 2/3 * eps; b = 1/3 * eps + 2/3 * 1/2.
    assert ranking["a"].score == pytest.approx(1 / 6)
    assert ranking["b"].score == pytest.approx(1 / 3)
    assert ranking.ids == ["b", "a"]


def test_entry_absent_from_a_stage_is_missing_there() -> None:
    groups = {"G": ["m"]}
    open_stage = Stage("open", 1, [Entry("a", {"m": 0.4}), Entry("b", {"m": 0.6})], groups)
    hidden = Stage("hidden", 1, [Entry("a", {"m": 0.5})], groups)
    ranking = rank_stages([open_stage, hidden], "neurips2023")
    # hidden pool is {a, b}: b missing -> 0.0, so a beats it: 1/2; b: 0 -> eps.
    assert ranking["a"].stages["hidden"].score == pytest.approx(0.5)
    assert ranking["b"].stages["hidden"].score == SMALLEST_POSITIVE
