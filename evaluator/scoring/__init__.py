"""Scoring: from evaluation results to leaderboards. Pure functions, no I/O.

- A run spec's score is the mean of its main metric over its instances, a scenario's score the
  mean of its run specs' scores, a suite's overall score the mean of its scenario scores
  (`score_run_specs`, `score_groups`; the runner applies them to every `SuiteResult`).
- A leaderboard ranks `Entry`s (one per submission, built from a result with
  `entry_from_result`) in `mean` or `winrate` mode (the NeurIPS 2023 challenge's), over one or
  several weighted `Stage`s: `rank_entries`, `rank_stages`.

    entries = [entry_from_result(sub.id, sub.result) for sub in submissions]
    ranking = rank_stages([Stage("open", 1, open_entries), Stage("hidden", 2, hidden_entries)])
    ranking.entries[0].rank, ranking.entries[0].id, ranking.entries[0].score
"""

from evaluator.results import score_groups, score_run_specs
from evaluator.scoring.entries import (
    Entry,
    entry_from_result,
    extra_columns,
    is_scenario_score,
    metric_key,
    scenario_of,
)
from evaluator.scoring.leaderboard import (
    MODES,
    Mode,
    RankedEntry,
    Ranking,
    Stage,
    StageScore,
    geometric_mean,
    rank_entries,
    rank_stages,
    win_rates,
)

__all__ = [
    "MODES",
    "Entry",
    "Mode",
    "RankedEntry",
    "Ranking",
    "Stage",
    "StageScore",
    "entry_from_result",
    "extra_columns",
    "geometric_mean",
    "is_scenario_score",
    "metric_key",
    "rank_entries",
    "rank_stages",
    "scenario_of",
    "score_groups",
    "score_run_specs",
    "win_rates",
]
