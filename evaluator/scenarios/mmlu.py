"""MMLU (Hendrycks et al.) read from the original per-subject CSVs, as HELM's MMLUScenario does.

Files: `mmlu/data/{dev,val,test}/<subject>_<split>.csv`, no header, columns question, options...,
answer letter. HELM maps dev to the train split (in-context examples), val to valid, test to test;
the auxiliary_train directory has no per-subject files, so HELM skips it and so do we.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from evaluator.core import (
    CORRECT_TAG,
    TEST_SPLIT,
    TRAIN_SPLIT,
    VALID_SPLIT,
    Instance,
    Reference,
)
from evaluator.data import DataSource
from evaluator.errors import ScenarioDataError
from evaluator.scenarios.base import register_scenario, with_instance_ids

# (directory name, HELM split) in HELM's reading order.
_SPLITS: tuple[tuple[str, str], ...] = (
    ("dev", TRAIN_SPLIT),
    ("val", VALID_SPLIT),
    ("test", TEST_SPLIT),
)
_LETTERS = "ABCDE"


def mmlu_file(subject: str, split_dir: str) -> str:
    return f"mmlu/data/{split_dir}/{subject}_{split_dir}.csv"


def parse_mmlu_csv(data: bytes, split: str, source: str) -> list[Instance]:
    """Rows of one CSV as instances, byte-compatible with HELM's reader.

    HELM opens the file in text mode, so universal newlines turn "\\r\\n" inside quoted fields into
    "\\n"; we decode the same way. An option equal to the correct option's text is also marked
    correct, as in HELM (it compares texts, not positions).
    """
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()
    instances: list[Instance] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text), delimiter=","), start=1):
        question, answers, correct_choice = row[0], row[1:-1], row[-1]
        by_letter = dict(zip(_LETTERS, answers, strict=False))
        if correct_choice not in by_letter:
            # Pinned data never does this; the message is for whoever adds a new data file.
            raise ScenarioDataError(
                f"{source} row {line_no}: answer {correct_choice!r} is not an option"
            )
        correct_text = by_letter[correct_choice]
        references = tuple(
            Reference(output=answer, tags=(CORRECT_TAG,) if answer == correct_text else ())
            for answer in answers
        )
        instances.append(Instance(input=question, references=references, split=split))
    return instances


@register_scenario("mmlu")
class MMLUScenario:
    """One MMLU subject."""

    version = "1"

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def files(self) -> list[str]:
        return [mmlu_file(self.subject, split_dir) for split_dir, _ in _SPLITS]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        instances: list[Instance] = []
        for split_dir, split in _SPLITS:
            path = mmlu_file(self.subject, split_dir)
            instances.extend(parse_mmlu_csv(data.read_bytes(path, pins[path]), split, path))
        return with_instance_ids(instances)


def mmlu_instructions(subject: str) -> str:
    """HELM's get_mmlu_spec instructions (before format_instructions adds the newline)."""
    return (
        "The following are multiple choice questions (with answers) about "
        f"{subject.replace('_', ' ')}."
    )
