"""Ranking entries: the `mean`, `winrate` and `neurips2023` leaderboard modes, over stages.

`neurips2023` is the 2023 organizers' arithmetic exactly, as their `rank_submissions.py` and
`combin_ranks.py` (llm-efficiency-challenge/private-helm, `neurIPS_eval_scripts/`) compute it:

- per metric column, over the n entries of the pool, a missing value counts as 0.0 (1000.0
  where lower is better); an entry gets 1 for every entry it strictly beats and, when c > 1
  entries share its value, 1/(c(c-1)) for each of the c-1 others, so 1/c in all (a value nobody
  shares gets nothing for itself); the sum is divided by n, the entry itself included;
- a group's (scenario's) score is the mean of its columns' win rates;
- a stage's score is the geometric mean of its group scores, a zero replaced by the smallest
  positive float (`math.nextafter(0, inf)`);
- the final score is the weighted sum of the stage scores (1/3 open + 2/3 hidden in 2023).

`winrate` is Podium's cleaned-up win rate, named as such (the DESIGN's third rule):

- per metric column, an entry's win rate is the fraction of the *other* entries of the pool it
  beats; a tie counts half a win. A missing value loses to every value that exists and ties
  with other missing ones, so missing metrics rank last, never first;
- a scenario's score is the mean of its columns' win rates;
- a stage's score is the geometric mean of its scenario scores;
- the final score is the weighted mean of the stage scores (e.g. open 1/3, hidden 2/3).

`mean` ranks by the plain numbers: a stage's score is the mean of its scenario scores (the
`"<scenario>"` columns; extra columns are ignored), the final score the weighted mean of stages.
An entry missing any scenario score of a stage has no score there (None) and ranks after every
entry that has one.

Decisions the challenge left open, fixed here:
- The pool of a stage is every entry ranked (the union over stages; baselines unless excluded),
  so an entry absent from a stage counts as missing every metric of that stage.
- Columns are the keys some pool entry has; a stage whose entries have no metrics yet (a hidden
  stage not evaluated so far) is left out of the final score, and the weights of the remaining
  stages are renormalised.
- A win rate against nobody (a pool of one) is 1.0: the lone entry is beaten by no one.
- Geometric mean with a zero: the challenge published `score = prod(mean_win_rate(tasks))`, under
  which one last place in every column of a scenario zeroes the stage. That is the default
  (`zero_floor=0.0`). A positive `zero_floor` (e.g. 0.01) raises each scenario score to at least
  that value before the geometric mean, which keeps entries that were last somewhere apart from
  each other while still punishing them hard.
- Ranks are competition ranks: equal scores (to 12 decimals, past float noise) share a rank
  and the next rank skips (1, 2, 2, 4); entries without a score come last and share a rank.
  Ties are listed by id so a ranking is deterministic.
- Baselines excluded from the pool (`include_baselines=False`) are not ranked at all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from evaluator.scoring.entries import Entry, is_scenario_score, scenario_of

Mode = Literal["mean", "winrate", "neurips2023"]
MODES: tuple[Mode, ...] = ("mean", "winrate", "neurips2023")
#: The organizers' stand-in for a zero group score in the geometric mean.
SMALLEST_POSITIVE = math.nextafter(0.0, math.inf)
#: What a missing value counts as under `neurips2023` (their `default_value`).
MISSING_HIGHER_IS_BETTER = 0.0
MISSING_LOWER_IS_BETTER = 1000.0
_TIE_DIGITS = 12


@dataclass(frozen=True)
class Stage:
    """One leaderboard stage (e.g. the open and the hidden evaluation) and its entries."""

    # Stage name, e.g. "open".
    name: str
    # Relative weight in the final score (normalised over the stages that have results).
    weight: float
    # The entries evaluated in this stage.
    entries: Sequence[Entry]
    # Group name -> its column keys, when the stage declares its columns (a HELM-style board,
    # `podium rank`). None derives them: the keys some entry has, grouped by scenario.
    groups: Mapping[str, Sequence[str]] | None = None

    def __post_init__(self) -> None:
        if self.groups is not None:
            object.__setattr__(
                self,
                "groups",
                MappingProxyType({g: tuple(cols) for g, cols in self.groups.items()}),
            )
            empty = sorted(g for g, cols in self.groups.items() if not cols)
            if empty:
                raise ValueError(f"stage {self.name!r}: groups without columns: {empty}")
        if not self.weight >= 0:
            raise ValueError(f"stage {self.name!r}: weight must be >= 0, got {self.weight}")
        object.__setattr__(self, "entries", tuple(self.entries))
        ids = [entry.id for entry in self.entries]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"stage {self.name!r} lists entries more than once: {duplicates}")


@dataclass(frozen=True)
class StageScore:
    """An entry's scores in one stage."""

    # Stage score; None when the entry cannot be scored there (mean mode, missing scenario).
    score: float | None
    # Scenario -> score (winrate: mean of column win rates; mean: the scenario's own score).
    per_scenario: Mapping[str, float | None]
    # Column key -> win rate (winrate mode) or value (mean mode).
    per_metric: Mapping[str, float | None]


@dataclass(frozen=True)
class RankedEntry:
    """One line of a leaderboard."""

    # Competition rank: 1, 2, 2, 4.
    rank: int
    # Entry id.
    id: str
    # Final score; None when it cannot be scored (ranks last).
    score: float | None
    # Scenario -> score; keys are "<stage>/<scenario>" when the ranking has several stages.
    per_scenario: Mapping[str, float | None]
    # Stage name -> the entry's scores in that stage (only stages that have results).
    stages: Mapping[str, StageScore]
    # Whether the entry is a baseline.
    is_baseline: bool = False


@dataclass(frozen=True)
class Ranking:
    """A scored, ordered leaderboard."""

    # "mean" or "winrate".
    mode: Mode
    # Entries, best first.
    entries: tuple[RankedEntry, ...]
    # Stage name -> weight actually applied (normalised; stages without results are absent).
    weights: Mapping[str, float]
    # Stage name -> column keys it was scored on.
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __getitem__(self, entry_id: str) -> RankedEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    @property
    def ids(self) -> list[str]:
        """Entry ids, best first."""
        return [entry.id for entry in self.entries]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (no NaN)."""
        return {
            "mode": self.mode,
            "weights": dict(self.weights),
            "columns": {name: list(keys) for name, keys in self.columns.items()},
            "entries": [
                {
                    "rank": e.rank,
                    "id": e.id,
                    "score": e.score,
                    "is_baseline": e.is_baseline,
                    "per_scenario": dict(e.per_scenario),
                    "stages": {
                        name: {
                            "score": s.score,
                            "per_scenario": dict(s.per_scenario),
                            "per_metric": dict(s.per_metric),
                        }
                        for name, s in e.stages.items()
                    },
                }
                for e in self.entries
            ],
        }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def geometric_mean(values: Sequence[float], zero_floor: float = 0.0) -> float:
    """Geometric mean of non-negative `values`, each raised to at least `zero_floor` first;
    0.0 when any value is (still) zero."""
    if not values:
        raise ValueError("geometric mean of no values")
    floored = [max(value, zero_floor) for value in values]
    if any(value < 0 for value in floored):
        raise ValueError(f"geometric mean of negative values: {values}")
    if any(value == 0 for value in floored):
        return 0.0
    return math.exp(math.fsum(math.log(value) for value in floored) / len(floored))


def win_rates(
    values: Mapping[str, float | None], *, lower_is_better: bool = False
) -> dict[str, float]:
    """Entry id -> fraction of the other entries it beats on this column (ties count half;
    None loses to every value and ties with other Nones; a pool of one gets 1.0)."""
    others = len(values) - 1
    if others <= 0:
        return {entry_id: 1.0 for entry_id in values}
    present = Counter(v for v in values.values() if v is not None)
    missing = len(values) - sum(present.values())
    # Wins of each distinct value: everything worse, every missing one, half of the equal rest.
    wins: dict[float, float] = {}
    worse = missing
    for value in sorted(present, reverse=lower_is_better):
        count = present[value]
        wins[value] = worse + (count - 1) / 2
        worse += count
    missing_wins = (missing - 1) / 2
    return {
        entry_id: (missing_wins if value is None else wins[value]) / others
        for entry_id, value in values.items()
    }


def organizer_win_rates(
    values: Mapping[str, float | None], *, lower_is_better: bool = False
) -> dict[str, float]:
    """Entry id -> win rate on one column, the 2023 organizers' `calc_win_rate` exactly (see the
    module doc): missing counts as 0.0 (1000.0 when lower is better), strict wins plus 1/c for a
    value shared by c > 1 entries, divided by the pool size n."""
    missing = MISSING_LOWER_IS_BETTER if lower_is_better else MISSING_HIGHER_IS_BETTER
    filled = {i: (missing if v is None else v) for i, v in values.items()}
    counts = Counter(filled.values())
    n = len(filled)
    ordered = sorted(counts, reverse=lower_is_better)  # worst first
    beaten: dict[float, int] = {}
    worse = 0
    for value in ordered:
        beaten[value] = worse
        worse += counts[value]
    return {
        i: (beaten[v] + (1.0 / counts[v] if counts[v] > 1 else 0.0)) / n for i, v in filled.items()
    }


def rank_entries(
    entries: Sequence[Entry],
    mode: Mode = "winrate",
    *,
    include_baselines: bool = True,
    zero_floor: float = 0.0,
    lower_is_better: Collection[str] = (),
) -> Ranking:
    """Rank one stage of entries (see `rank_stages`); per_scenario keys are scenario names."""
    return rank_stages(
        [Stage("main", 1.0, entries)],
        mode,
        include_baselines=include_baselines,
        zero_floor=zero_floor,
        lower_is_better=lower_is_better,
    )


def rank_stages(
    stages: Sequence[Stage],
    mode: Mode = "winrate",
    *,
    include_baselines: bool = True,
    zero_floor: float = 0.0,
    lower_is_better: Collection[str] = (),
) -> Ranking:
    """Score and rank every entry of `stages`.

    - `include_baselines=False` leaves baselines out of the pool (they neither count as
      opponents nor appear in the ranking).
    - `zero_floor` applies to the geometric mean of the winrate mode (see the module doc).
    - `lower_is_better` lists column keys where a smaller value wins (e.g. a latency column).
    """
    if mode not in MODES:
        raise ValueError(f"unknown leaderboard mode {mode!r}; use one of {', '.join(MODES)}")
    if not 0 <= zero_floor <= 1:
        raise ValueError(f"zero_floor must be between 0 and 1, got {zero_floor}")
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"stage names must be unique, got {names}")
    pool = _pool(stages, include_baselines)
    lower = frozenset(lower_is_better)

    stage_scores: dict[str, dict[str, StageScore]] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for stage in stages:
        by_id = {entry.id: entry for entry in stage.entries if entry.id in pool}
        groups = _groups(stage, by_id.values(), mode)
        keys = tuple(key for cols in groups.values() for key in cols)
        if not keys:
            continue
        columns[stage.name] = keys
        rows = {entry_id: by_id.get(entry_id) for entry_id in pool}
        if mode == "winrate":
            stage_scores[stage.name] = _winrate_stage(rows, groups, lower, win_rates, zero_floor)
        elif mode == "neurips2023":
            stage_scores[stage.name] = _winrate_stage(
                rows, groups, lower, organizer_win_rates, SMALLEST_POSITIVE
            )
        else:
            stage_scores[stage.name] = _mean_stage(rows, groups)

    weights = _normalised_weights({s.name: s.weight for s in stages if s.name in stage_scores})
    several = len(stages) > 1
    scored: list[tuple[str, float | None, dict[str, StageScore], dict[str, float | None]]] = []
    for entry_id in pool:
        per_stage = {name: scores[entry_id] for name, scores in stage_scores.items()}
        per_scenario = {
            (f"{name}/{scenario}" if several else scenario): value
            for name, score in per_stage.items()
            for scenario, value in score.per_scenario.items()
        }
        scored.append((entry_id, _final(per_stage, weights), per_stage, per_scenario))

    ranked = _competition_ranks([(entry_id, final) for entry_id, final, _, _ in scored])
    details = {entry_id: (stages_, scenarios) for entry_id, _, stages_, scenarios in scored}
    return Ranking(
        mode=mode,
        entries=tuple(
            RankedEntry(
                rank=rank,
                id=entry_id,
                score=final,
                per_scenario=MappingProxyType(details[entry_id][1]),
                stages=MappingProxyType(details[entry_id][0]),
                is_baseline=pool[entry_id],
            )
            for rank, entry_id, final in ranked
        ),
        weights=MappingProxyType(weights),
        columns=MappingProxyType(columns),
    )


def _pool(stages: Iterable[Stage], include_baselines: bool) -> dict[str, bool]:
    """Entry id -> is_baseline, over all stages, in first-appearance order."""
    pool: dict[str, bool] = {}
    for stage in stages:
        for entry in stage.entries:
            known = pool.get(entry.id)
            if known is not None and known != entry.is_baseline:
                raise ValueError(f"entry {entry.id!r} is a baseline in one stage but not another")
            if include_baselines or not entry.is_baseline:
                pool[entry.id] = entry.is_baseline
    return pool


def _groups(stage: Stage, entries: Iterable[Entry], mode: Mode) -> dict[str, tuple[str, ...]]:
    """Group -> column keys: the stage's own declaration, else the keys some entry has, by
    scenario (only the scenario scores in mean mode)."""
    if stage.groups is not None:
        return {group: tuple(cols) for group, cols in stage.groups.items()}
    keys = sorted(
        {key for entry in entries for key in entry.metrics if entry.value(key) is not None}
    )
    if mode == "mean":
        keys = [key for key in keys if is_scenario_score(key)]
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(scenario_of(key), []).append(key)
    return {group: tuple(cols) for group, cols in groups.items()}


class _ColumnRates(Protocol):
    def __call__(
        self, values: Mapping[str, float | None], *, lower_is_better: bool = False
    ) -> dict[str, float]: ...


def _winrate_stage(
    rows: Mapping[str, Entry | None],
    scenarios: Mapping[str, Sequence[str]],
    lower_is_better: frozenset[str],
    column_rates: _ColumnRates,
    zero_floor: float,
) -> dict[str, StageScore]:
    keys = [key for cols in scenarios.values() for key in cols]
    rates = {
        key: column_rates(
            {i: (None if e is None else e.value(key)) for i, e in rows.items()},
            lower_is_better=key in lower_is_better,
        )
        for key in keys
    }
    scores: dict[str, StageScore] = {}
    for entry_id in rows:
        per_scenario = {
            scenario: _mean([rates[key][entry_id] for key in scenario_keys])
            for scenario, scenario_keys in scenarios.items()
        }
        scores[entry_id] = StageScore(
            score=geometric_mean(list(per_scenario.values()), zero_floor),
            per_scenario=MappingProxyType(dict(per_scenario)),
            per_metric=MappingProxyType({key: rates[key][entry_id] for key in keys}),
        )
    return scores


def _mean_stage(
    rows: Mapping[str, Entry | None], groups: Mapping[str, Sequence[str]]
) -> dict[str, StageScore]:
    """A group's score is the mean of its columns (derived groups hold one: the scenario's own
    score); the stage's the mean of its groups. Anything missing leaves it None."""
    scores: dict[str, StageScore] = {}
    for entry_id, entry in rows.items():
        per_metric = {
            key: (None if entry is None else entry.value(key))
            for cols in groups.values()
            for key in cols
        }
        per_scenario: dict[str, float | None] = {}
        for group, cols in groups.items():
            values = [per_metric[key] for key in cols]
            present = [v for v in values if v is not None]
            per_scenario[group] = _mean(present) if len(present) == len(values) else None
        complete = [v for v in per_scenario.values() if v is not None]
        scores[entry_id] = StageScore(
            score=_mean(complete) if len(complete) == len(per_scenario) else None,
            per_scenario=MappingProxyType(per_scenario),
            per_metric=MappingProxyType(per_metric),
        )
    return scores


def _normalised_weights(weights: Mapping[str, float]) -> dict[str, float]:
    total = math.fsum(weights.values())
    if weights and total <= 0:
        raise ValueError(f"the stages with results have no weight: {dict(weights)}")
    return {name: weight / total for name, weight in weights.items()}


def _final(per_stage: Mapping[str, StageScore], weights: Mapping[str, float]) -> float | None:
    if not per_stage:
        return None
    parts = []
    for name, score in per_stage.items():
        if score.score is None:
            return None
        parts.append(weights[name] * score.score)
    return math.fsum(parts)


def _competition_ranks(
    scores: Sequence[tuple[str, float | None]],
) -> list[tuple[int, str, float | None]]:
    """(rank, id, score), best first; equal scores share a rank (1, 2, 2, 4), None last."""

    # Compared rounded, so that float noise (the same win rates summed in another order) neither
    # splits a tie nor orders tied entries other than by id.
    def key(item: tuple[str, float | None]) -> tuple[bool, float, str]:
        entry_id, score = item
        return (score is None, 0.0 if score is None else -round(score, _TIE_DIGITS), entry_id)

    ranked: list[tuple[int, str, float | None]] = []
    previous: tuple[bool, float] | None = None
    rank = 0
    for position, item in enumerate(sorted(scores, key=key), start=1):
        current = key(item)[:2]
        if current != previous:
            rank, previous = position, current
        ranked.append((rank, item[0], item[1]))
    return ranked
