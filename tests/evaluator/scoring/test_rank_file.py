"""`podium rank FILE`: the offline re-ranking command, end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main

BOARD = {
    "stages": [
        {
            "name": "open",
            "weight": 1 / 3,
            "groups": {"MMLU": ["MMLU - EM", "MMLU - EM (Fairness)"], "GSM8K": ["GSM8K - EM"]},
            "entries": {
                "a": {"MMLU - EM": 0.7, "MMLU - EM (Fairness)": 0.6, "GSM8K - EM": 0.2},
                "b": {"MMLU - EM": 0.7, "MMLU - EM (Fairness)": 0.5, "GSM8K - EM": 0.4},
                "c": {"MMLU - EM": 0.3, "MMLU - EM (Fairness)": 0.6},
            },
        },
        {
            "name": "hidden",
            "weight": 2 / 3,
            "groups": {"CNN/DailyMail": ["CNN/DailyMail - ROUGE-2"]},
            "lower_is_better": [],
            "entries": {"a": {"CNN/DailyMail - ROUGE-2": 0.1}, "b": {}},
        },
    ]
}


def _rank(tmp_path: Path, board: object, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    result = CliRunner().invoke(main, ["rank", str(path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_neurips2023_board(tmp_path: Path) -> None:
    code, out, _ = _rank(tmp_path, BOARD)
    assert code == 0, out
    board = json.loads(out)
    assert board["rules"] == "neurips2023"
    by_id = {e["id"]: e for e in board["entries"]}
    # open, n=3. MMLU - EM: a=b=0.7 (c=2): (1 + 1/2)/3 = 0.5 each, c 0. Fairness: a=c=0.6:
    # (1 + 1/2)/3 = 0.5 each, b 0. GSM8K: b 2/3, a 1/3, c missing 0.
    # MMLU group: a = 0.5, b = 0.25, c = 0.25.
    assert by_id["a"]["stages"]["open"]["groups"] == pytest.approx({"MMLU": 0.5, "GSM8K": 1 / 3})
    assert by_id["c"]["stages"]["open"]["groups"]["GSM8K"] == 0.0
    # hidden: c absent from the stage counts as missing, like b: a beats both -> 2/3.
    assert by_id["a"]["stages"]["hidden"]["score"] == pytest.approx(2 / 3)
    a_open = (0.5 * (1 / 3)) ** 0.5
    assert by_id["a"]["score"] == pytest.approx(a_open / 3 + 2 / 3 * 2 / 3)
    assert [e["id"] for e in board["entries"]][0] == "a"
    assert by_id["a"]["rank"] == 1


def test_other_rules_rank_the_same_file(tmp_path: Path) -> None:
    code, out, _ = _rank(tmp_path, BOARD, "--rules", "mean")
    assert code == 0, out
    by_id = {e["id"]: e for e in json.loads(out)["entries"]}
    assert by_id["a"]["stages"]["open"]["groups"]["MMLU"] == pytest.approx(0.65)
    assert by_id["c"]["score"] is None  # missing a column: no mean, ranked last
    code, out, _ = _rank(tmp_path, BOARD, "--rules", "winrate")
    assert code == 0 and json.loads(out)["rules"] == "winrate"


def test_ties_share_a_rank(tmp_path: Path) -> None:
    tied = {
        "stages": [
            {
                "name": "open",
                "groups": {"G": ["m"]},
                "entries": {"x": {"m": 0.5}, "y": {"m": 0.5}, "z": {"m": 0.1}},
            }
        ]
    }
    code, out, _ = _rank(tmp_path, tied)
    assert code == 0, out
    ranks = {e["id"]: e["rank"] for e in json.loads(out)["entries"]}
    assert ranks == {"x": 1, "y": 1, "z": 3}


@pytest.mark.parametrize(
    ("board", "message"),
    [
        ({"stages": []}, "non-empty 'stages' list"),
        ({"stages": [{"name": "open", "groups": {}, "entries": {}}]}, "'groups' must map"),
        (
            {"stages": [{"name": "open", "groups": {"G": ["m"]}, "entries": {"a": {"m": "x"}}}]},
            "entry 'a' column 'm': expected a number",
        ),
        (
            {
                "stages": [
                    {
                        "name": "o",
                        "groups": {"G": ["m"]},
                        "lower_is_better": ["latency"],
                        "entries": {},
                    }
                ]
            },
            "lower_is_better names columns in no group",
        ),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, board: object, message: str) -> None:
    code, out, err = _rank(tmp_path, board)
    assert code != 0
    assert message in err


def test_ignored_columns_are_reported(tmp_path: Path) -> None:
    board = {"stages": [{"name": "o", "groups": {"G": ["m"]}, "entries": {"a": {"m": 1, "n": 2}}}]}
    code, out, err = _rank(tmp_path, board)
    assert code == 0
    assert "columns in no group are ignored: ['n']" in err
