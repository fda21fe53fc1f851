"""Leaderboards recomputed by hand: win rates, geometric means, stage weights, ranks."""

from __future__ import annotations

import math

import pytest

from evaluator.scoring import (
    Entry,
    Stage,
    geometric_mean,
    rank_entries,
    rank_stages,
    win_rates,
)

# The worked example. Four entries, two stages; D is the organizers' baseline.
#
# Stage "open" (weight 1): scenario mmlu has two columns (its score and a robustness column),
# scenario gsm one. C has no robustness figure.
#
#          mmlu   mmlu/robustness   gsm
#     A    0.6    0.5               0.2
#     B    0.5    0.5               0.3
#     C    0.4    -                 0.3
#     D    0.3    0.2               0.1
#
# Win rates (fraction of the 3 others beaten, a tie counts 1/2, a missing value loses to all):
#     mmlu:        A 3/3 = 1     B 2/3         C 1/3         D 0
#     robustness:  A (beats C, D, ties B) 2.5/3 = 5/6   B 5/6   C 0   D (beats C) 1/3
#     gsm:         A (beats D) 1/3   B, C (beat A, D, tie) 2.5/3 = 5/6   D 0
# Scenario scores (mean of column win rates):
#     mmlu: A (1 + 5/6)/2 = 11/12   B (2/3 + 5/6)/2 = 3/4
#           C (1/3 + 0)/2 = 1/6     D (0 + 1/3)/2 = 1/6
#     gsm:  A 1/3   B 5/6   C 5/6   D 0
# Stage score (geometric mean over the two scenarios):
#     A sqrt(11/12 * 1/3) = sqrt(11)/6      B sqrt(3/4 * 5/6) = sqrt(5/8)
#     C sqrt(1/6 * 5/6) = sqrt(5)/6         D sqrt(1/6 * 0) = 0
#
# Stage "hidden" (weight 2):
#          bbh    tqa
#     A    0.7    0.4
#     B    0.5    0.4
#     C    0.9    -
#     D    0.5    0.2
#     bbh: C 1   A 2/3   B, D (tie, beat nobody else) 0.5/3 = 1/6
#     tqa: A, B (beat C, D, tie) 5/6   D (beats C) 1/3   C 0
#     stage: A sqrt(2/3 * 5/6) = sqrt(5)/3   B sqrt(1/6 * 5/6) = sqrt(5)/6
#            C sqrt(1 * 0) = 0               D sqrt(1/6 * 1/3) = sqrt(1/18)
#
# Final = 1/3 open + 2/3 hidden:
#     A sqrt(11)/18 + 2 sqrt(5)/9 ~ 0.6812
#     B sqrt(5/8)/3 + sqrt(5)/9   ~ 0.5120
#     D 0 + 2/3 sqrt(1/18)        ~ 0.1571
#     C sqrt(5)/18 + 0            ~ 0.1242
# so the baseline D ranks above team C.

OPEN = [
    Entry("A", {"mmlu": 0.6, "mmlu/robustness": 0.5, "gsm": 0.2}),
    Entry("B", {"mmlu": 0.5, "mmlu/robustness": 0.5, "gsm": 0.3}),
    Entry("C", {"mmlu": 0.4, "gsm": 0.3}),
    Entry("D", {"mmlu": 0.3, "mmlu/robustness": 0.2, "gsm": 0.1}, is_baseline=True),
]
HIDDEN = [
    Entry("A", {"bbh": 0.7, "tqa": 0.4}),
    Entry("B", {"bbh": 0.5, "tqa": 0.4}),
    Entry("C", {"bbh": 0.9, "tqa": None}),
    Entry("D", {"bbh": 0.5, "tqa": 0.2}, is_baseline=True),
]
STAGES = [Stage("open", 1.0, OPEN), Stage("hidden", 2.0, HIDDEN)]


def test_worked_example_with_baseline_in_the_pool() -> None:
    ranking = rank_stages(STAGES, "winrate")
    assert ranking.ids == ["A", "B", "D", "C"]
    assert [e.rank for e in ranking.entries] == [1, 2, 3, 4]
    assert dict(ranking.weights) == pytest.approx({"open": 1 / 3, "hidden": 2 / 3})

    a = ranking["A"]
    assert dict(a.stages["open"].per_metric) == pytest.approx(
        {"gsm": 1 / 3, "mmlu": 1.0, "mmlu/robustness": 5 / 6}
    )
    assert dict(a.per_scenario) == pytest.approx(
        {"open/mmlu": 11 / 12, "open/gsm": 1 / 3, "hidden/bbh": 2 / 3, "hidden/tqa": 5 / 6}
    )
    assert a.stages["open"].score == pytest.approx(math.sqrt(11) / 6)
    assert a.stages["hidden"].score == pytest.approx(math.sqrt(5) / 3)
    assert a.score == pytest.approx(math.sqrt(11) / 18 + 2 * math.sqrt(5) / 9)

    b, c, d = ranking["B"], ranking["C"], ranking["D"]
    assert b.per_scenario["open/mmlu"] == pytest.approx(3 / 4)
    assert b.score == pytest.approx(math.sqrt(5 / 8) / 3 + math.sqrt(5) / 9)
    # C's missing robustness figure counts as losing to all three others.
    assert c.stages["open"].per_metric["mmlu/robustness"] == 0.0
    assert c.stages["hidden"].score == 0.0
    assert c.score == pytest.approx(math.sqrt(5) / 18)
    assert d.is_baseline and d.stages["open"].score == 0.0
    assert d.score == pytest.approx(2 / 3 * math.sqrt(1 / 18))


# Without the baseline, the pool is A, B, C (2 others each):
#     open:   mmlu A 1, B 1/2, C 0;  robustness A, B 1.5/2 = 3/4, C 0;  gsm A 0, B, C 3/4
#             mmlu scenario A 7/8, B 5/8, C 0;  stage A sqrt(7/8 * 0) = 0,
#             B sqrt(5/8 * 3/4) = sqrt(15/32), C sqrt(0 * 3/4) = 0
#     hidden: bbh C 1, A 1/2, B 0;  tqa A, B 3/4, C 0
#             stage A sqrt(1/2 * 3/4) = sqrt(3/8), B 0, C 0
#     final:  A 2/3 sqrt(3/8) ~ 0.408,  B 1/3 sqrt(15/32) ~ 0.228,  C 0
def test_worked_example_without_baselines() -> None:
    ranking = rank_stages(STAGES, "winrate", include_baselines=False)
    assert ranking.ids == ["A", "B", "C"]
    assert ranking["A"].score == pytest.approx(2 / 3 * math.sqrt(3 / 8))
    assert ranking["B"].score == pytest.approx(math.sqrt(15 / 32) / 3)
    assert ranking["C"].score == 0.0
    assert ranking["A"].per_scenario["open/mmlu"] == pytest.approx(7 / 8)


def test_zero_floor_keeps_entries_that_were_last_somewhere_apart() -> None:
    # Without baselines A and C both have a zero stage; with a floor of 0.1 on scenario scores:
    #     open A sqrt(7/8 * 0.1), C sqrt(0.1 * 3/4); hidden C sqrt(1 * 0.1)
    ranking = rank_stages(STAGES, "winrate", include_baselines=False, zero_floor=0.1)
    assert ranking["A"].stages["open"].score == pytest.approx(math.sqrt(7 / 8 * 0.1))
    assert ranking["C"].score == pytest.approx(math.sqrt(0.1 * 3 / 4) / 3 + 2 / 3 * math.sqrt(0.1))
    # The win rates themselves are not floored.
    assert ranking["A"].per_scenario["open/gsm"] == 0.0


def test_geometric_mean() -> None:
    assert geometric_mean([0.25, 1.0]) == pytest.approx(0.5)
    assert geometric_mean([0.9, 0.0]) == 0.0
    assert geometric_mean([0.9, 0.0], zero_floor=0.01) == pytest.approx(math.sqrt(0.009))
    with pytest.raises(ValueError):
        geometric_mean([])


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    # Win rates: W 3/3, X and Y (tie, both beat Z) 1.5/3 = 1/2, Z 0.
    entries = [
        Entry("W", {"mmlu": 0.9}),
        Entry("Y", {"mmlu": 0.5}),
        Entry("X", {"mmlu": 0.5}),
        Entry("Z", {"mmlu": 0.1}),
    ]
    ranking = rank_entries(entries)
    assert [(e.rank, e.id, e.score) for e in ranking.entries] == [
        (1, "W", 1.0),
        (2, "X", 0.5),
        (2, "Y", 0.5),
        (4, "Z", 0.0),
    ]
    assert dict(ranking["X"].per_scenario) == {"mmlu": 0.5}


def test_scores_equal_up_to_float_noise_tie() -> None:
    # 0.1 + 0.2 != 0.3 in floats; both mean "0.3" and must share a rank, listed by id.
    entries = [Entry("b", {"s": 0.1 + 0.2}), Entry("a", {"s": 0.3}), Entry("c", {"s": 0.2})]
    ranking = rank_entries(entries, "mean")
    assert [(e.rank, e.id) for e in ranking.entries] == [(1, "a"), (1, "b"), (3, "c")]


def test_all_tied_entries_share_first_place() -> None:
    ranking = rank_entries([Entry(i, {"mmlu": 0.4}) for i in "abc"])
    assert [(e.rank, e.score) for e in ranking.entries] == [(1, 0.5)] * 3


def test_missing_metrics_rank_last_never_first() -> None:
    entries = [
        Entry("empty"),
        Entry("nan", {"mmlu": math.nan}),
        Entry("low", {"mmlu": 0.0}),
        Entry("high", {"mmlu": 0.2}),
    ]
    # Even where lower is better, a missing value does not win.
    for lower in ((), ("mmlu",)):
        ranking = rank_entries(entries, lower_is_better=lower)
        assert ranking.ids[-2:] == ["empty", "nan"]
        # The two missing entries lose to both others and tie with each other: 0.5/3.
        assert ranking["empty"].score == ranking["nan"].score == pytest.approx(1 / 6)
        assert ranking["empty"].rank == ranking["nan"].rank == 3
    assert rank_entries(entries, lower_is_better=("mmlu",)).ids[:2] == ["low", "high"]


def test_win_rates_of_a_column() -> None:
    assert win_rates({"a": 2.0, "b": 1.0, "c": None, "d": None}) == {
        "a": 1.0,
        "b": 2 / 3,
        "c": 1 / 6,
        "d": 1 / 6,
    }
    assert win_rates({"a": 2.0, "b": 1.0}, lower_is_better=True) == {"a": 0.0, "b": 1.0}
    assert win_rates({}) == {}


def test_single_entry_beats_nobody_and_loses_to_nobody() -> None:
    ranking = rank_entries([Entry("only", {"mmlu": 0.2, "gsm": 0.0})])
    (only,) = ranking.entries
    assert (only.rank, only.id, only.score) == (1, "only", 1.0)
    assert rank_entries([Entry("only", {"mmlu": 0.2, "gsm": 0.4})], "mean").entries[
        0
    ].score == pytest.approx(0.3)


def test_excluded_baselines_are_neither_opponents_nor_ranked() -> None:
    entries = [
        Entry("team", {"mmlu": 0.3}),
        Entry("base-1", {"mmlu": 0.5}, is_baseline=True),
        Entry("base-2", {"mmlu": 0.1}, is_baseline=True),
    ]
    included = rank_entries(entries)
    assert included.ids == ["base-1", "team", "base-2"]
    assert included["team"].score == 0.5
    excluded = rank_entries(entries, include_baselines=False)
    assert excluded.ids == ["team"]
    assert excluded["team"].score == 1.0


def test_mean_mode_uses_scenario_scores_and_stage_weights() -> None:
    # open:   A mean(0.6, 0.2) = 0.4     B mean(0.5, 0.3) = 0.4    (robustness ignored)
    # hidden: A mean(0.7, 0.4) = 0.55    B mean(0.5, 0.4) = 0.45
    # final:  A 0.4/3 + 2 * 0.55/3 = 0.5    B 0.4/3 + 2 * 0.45/3 = 0.4333
    # C lacks the hidden tqa score and D is a baseline left out.
    ranking = rank_stages(STAGES, "mean", include_baselines=False)
    assert ranking.columns["open"] == ("gsm", "mmlu")
    assert ranking.ids == ["A", "B", "C"]
    assert ranking["A"].score == pytest.approx(0.5)
    assert ranking["B"].score == pytest.approx(1.3 / 3)
    assert ranking["A"].stages["open"].score == pytest.approx(0.4)
    c = ranking["C"]
    assert c.score is None and c.rank == 3
    assert c.stages["open"].score == pytest.approx(0.35)
    assert c.per_scenario["hidden/tqa"] is None


def test_entry_absent_from_a_stage_counts_as_missing_there() -> None:
    stages = [
        Stage("open", 1, [Entry("A", {"s": 0.5}), Entry("B", {"s": 0.4})]),
        Stage("hidden", 1, [Entry("B", {"h": 0.1})]),
    ]
    ranking = rank_stages(stages)
    # hidden: B beats the absent A, A gets 0; open: A 1, B 0. Final A 0.5, B 0.5: a tie.
    assert ranking["A"].stages["hidden"].score == 0.0
    assert [(e.rank, e.id, e.score) for e in ranking.entries] == [(1, "A", 0.5), (1, "B", 0.5)]
    assert rank_stages(stages, "mean")["A"].score is None


def test_stage_without_results_is_left_out_of_the_final_score() -> None:
    stages = [
        Stage("open", 1, [Entry("A", {"s": 0.5}), Entry("B", {"s": 0.4})]),
        Stage("hidden", 2, [Entry("A"), Entry("B", {"s": None})]),
    ]
    ranking = rank_stages(stages)
    assert dict(ranking.weights) == {"open": 1.0}
    assert ranking["A"].score == 1.0 and "hidden" not in ranking["A"].stages


def test_json_form_and_invalid_input() -> None:
    ranking = rank_stages(STAGES)
    payload = ranking.to_json()
    assert payload["mode"] == "winrate"
    assert [e["id"] for e in payload["entries"]] == ["A", "B", "D", "C"]
    assert payload["entries"][0]["stages"]["open"]["per_metric"]["mmlu"] == 1.0
    with pytest.raises(ValueError, match="mode"):
        rank_entries(OPEN, "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more than once"):
        Stage("open", 1, [Entry("A"), Entry("A")])
    with pytest.raises(ValueError, match="baseline"):
        rank_stages([Stage("a", 1, [Entry("X")]), Stage("b", 1, [Entry("X", is_baseline=True)])])
    with pytest.raises(ValueError, match="unique"):
        rank_stages([Stage("a", 1, OPEN), Stage("a", 1, OPEN)])


def test_entries_are_frozen_copies() -> None:
    metrics = {"mmlu": 0.5}
    entry = Entry("A", metrics)
    metrics["mmlu"] = 0.0
    assert entry.value("mmlu") == 0.5
    with pytest.raises(TypeError):
        entry.metrics["mmlu"] = 1.0  # type: ignore[index]
