"""Fixtures for evaluator tests.

Scenario data is read in place from PODIUM_SCENARIO_DATA (default: the shared data set next to the
repository); it is never copied into the project.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from evaluator import DataSource

SMOKE_SUBJECTS = ("abstract_algebra", "college_chemistry", "computer_security", "us_foreign_policy")


@pytest.fixture(scope="session")
def scenario_root() -> Path:
    root = Path(
        os.environ.get("PODIUM_SCENARIO_DATA")
        or Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"
    )
    if not (root / "MANIFEST.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"scenario data not found at {root}: CI must have it")
        pytest.skip(f"scenario data not found at {root} (set PODIUM_SCENARIO_DATA)")
    return root


@pytest.fixture(scope="session")
def data(scenario_root: Path) -> DataSource:
    return DataSource(scenario_root)


def eval_block(row: list[str]) -> str:
    """The evaluated block of an MMLU row, written out independently of the adapter."""
    question, a, b, c, d, _answer = row
    return f"Question: {question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:"


@pytest.fixture(scope="session")
def mmlu_rows(scenario_root: Path) -> dict[str, list[list[str]]]:
    """Valid and test rows of the smoke subjects, read with the csv module (text mode, as HELM)."""
    rows: dict[str, list[list[str]]] = {}
    for subject in SMOKE_SUBJECTS:
        rows[subject] = []
        for split in ("val", "test"):
            path = scenario_root / "mmlu" / "data" / split / f"{subject}_{split}.csv"
            with path.open(encoding="utf-8") as f:
                rows[subject].extend(csv.reader(f))
    return rows


@pytest.fixture(scope="session")
def mmlu_test_rows(scenario_root: Path) -> set[tuple[str, ...]]:
    """The test-split rows of the smoke subjects: HELM's main split for MMLU."""
    rows: set[tuple[str, ...]] = set()
    for subject in SMOKE_SUBJECTS:
        path = scenario_root / "mmlu" / "data" / "test" / f"{subject}_test.csv"
        with path.open(encoding="utf-8") as f:
            rows.update(tuple(row) for row in csv.reader(f))
    return rows


@pytest.fixture(scope="session")
def row_for_prompt(
    mmlu_rows: dict[str, list[list[str]]],
) -> Callable[[str], list[str]]:
    """The CSV row a prompt evaluates (the one whose block ends the prompt)."""
    blocks = [(eval_block(row), row) for rows in mmlu_rows.values() for row in rows]

    def find(prompt: str) -> list[str]:
        matches = [row for block, row in blocks if prompt.endswith("\n\n" + block)]
        assert len(matches) == 1, f"prompt matches {len(matches)} rows: ...{prompt[-200:]!r}"
        return matches[0]

    return find
