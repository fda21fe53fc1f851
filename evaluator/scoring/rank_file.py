"""`podium rank FILE`: re-rank a board offline from a JSON file of per-metric numbers.

For an organizer who audits a board, merges boards from several deployments, or replays the
2023 ranking from its published numbers. The file:

    {"stages": [{"name": "open", "weight": 0.3333,
                 "groups": {"MMLU": ["MMLU - EM", "MMLU - EM (Robustness)"], ...},
                 "lower_is_better": ["..."],
                 "entries": {"<id>": {"<column>": <number>, ...}, ...}}, ...]}

A column absent from an entry is missing (what that means depends on the rules). The output:

    {"rules": "...", "entries": [{"id", "rank", "score",
                                  "stages": {"<name>": {"score", "groups": {"<group>": <x>}}}}]}

where a group's value is its mean win rate (`neurips2023`, `winrate`) or its mean (`mean`).
The arithmetic is `rank_stages`'s; this module only reads, checks and writes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

from evaluator.scoring.entries import Entry
from evaluator.scoring.leaderboard import MODES, Ranking, Stage, rank_stages


class RankFileError(ValueError):
    """The file is not a board this command can rank; the message says where and why."""


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RankFileError(f"{where}: expected a number or null, got {json.dumps(value)}")
    number = float(value)
    if math.isinf(number):
        raise RankFileError(f"{where}: infinite values cannot be ranked")
    return number


def _stage(raw: object, index: int) -> tuple[Stage, frozenset[str], list[str]]:
    where = f"stages[{index}]"
    if not isinstance(raw, dict):
        raise RankFileError(f"{where}: expected an object with name, groups and entries")
    unknown = sorted(set(raw) - {"name", "weight", "groups", "lower_is_better", "entries"})
    if unknown:
        raise RankFileError(f"{where}: unknown keys {unknown}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RankFileError(f"{where}: 'name' must be a non-empty string")
    where = f"stage {name!r}"
    weight = _number(raw.get("weight", 1.0), f"{where}: weight")
    if weight is None or weight < 0:
        raise RankFileError(f"{where}: 'weight' must be a number >= 0")
    groups = raw.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise RankFileError(f"{where}: 'groups' must map each group to its list of columns")
    columns: dict[str, str] = {}
    for group, cols in groups.items():
        if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
            raise RankFileError(f"{where}: group {group!r} must list at least one column name")
        for col in cols:
            if col in columns:
                raise RankFileError(
                    f"{where}: column {col!r} is in groups {columns[col]!r} and {group!r}"
                )
            columns[col] = group
    lower = raw.get("lower_is_better", [])
    if not isinstance(lower, list) or not all(isinstance(c, str) for c in lower):
        raise RankFileError(f"{where}: 'lower_is_better' must be a list of column names")
    strays = sorted(set(lower) - set(columns))
    if strays:
        raise RankFileError(f"{where}: lower_is_better names columns in no group: {strays}")
    entries = raw.get("entries")
    if not isinstance(entries, dict):
        raise RankFileError(f"{where}: 'entries' must map each entry id to its columns")
    parsed: list[Entry] = []
    ignored: set[str] = set()
    for entry_id, metrics in entries.items():
        if not isinstance(metrics, dict):
            raise RankFileError(f"{where}: entry {entry_id!r} must map columns to numbers")
        values = {
            col: _number(value, f"{where}: entry {entry_id!r} column {col!r}")
            for col, value in metrics.items()
        }
        ignored.update(col for col in values if col not in columns)
        parsed.append(Entry(id=entry_id, metrics={c: v for c, v in values.items() if c in columns}))
    stage = Stage(name, weight, parsed, groups={g: list(c) for g, c in groups.items()})
    notes = [f"{where}: columns in no group are ignored: {sorted(ignored)}"] if ignored else []
    return stage, frozenset(lower), notes


def load_board(data: object) -> tuple[list[Stage], frozenset[str], list[str]]:
    """Stages, the lower-is-better columns, and notes for the user (ignored columns)."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
        raise RankFileError("the file must be a JSON object with a non-empty 'stages' list")
    stages: list[Stage] = []
    lower: set[str] = set()
    notes: list[str] = []
    for index, raw in enumerate(cast(list[object], data["stages"])):
        stage, stage_lower, stage_notes = _stage(raw, index)
        stages.append(stage)
        lower |= stage_lower
        notes += stage_notes
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise RankFileError(f"stage names must be unique, got {names}")
    return stages, frozenset(lower), notes


def rank_board(data: object, rules: str) -> tuple[dict[str, Any], list[str]]:
    """Rank the parsed JSON `data` under `rules`; the output JSON and notes for stderr."""
    mode = next((m for m in MODES if m == rules), None)
    if mode is None:
        raise RankFileError(f"unknown rules {rules!r}; use one of {', '.join(MODES)}")
    stages, lower, notes = load_board(data)
    ranking = rank_stages(stages, mode, lower_is_better=lower)
    return board_json(ranking), notes


def board_json(ranking: Ranking) -> dict[str, Any]:
    return {
        "rules": ranking.mode,
        "weights": dict(ranking.weights),
        "entries": [
            {
                "id": entry.id,
                "rank": entry.rank,
                "score": entry.score,
                "stages": {
                    name: {"score": stage.score, "groups": _plain(stage.per_scenario)}
                    for name, stage in entry.stages.items()
                },
            }
            for entry in ranking.entries
        ],
    }


def _plain(values: Mapping[str, float | None]) -> dict[str, float | None]:
    return dict(values)
