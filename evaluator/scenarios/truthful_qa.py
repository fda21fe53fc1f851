"""TruthfulQA (Lin et al. 2021), task `mc_single`, as HELM's TruthfulQAScenario builds it.

File: `truthful_qa/data/v1/TruthfulQA.csv`, the v1 CSV (817 questions; columns Type, Category,
Question, Best Answer, Correct Answers, Incorrect Answers, Source). HELM downloads exactly this file
(`sylinrl/TruthfulQA` at commit d71c110, path `data/v1/TruthfulQA.csv`), not the 790-question root
CSV of 2025 nor `mc_task.json`, so those two are never read.

Per question HELM offers the best answer (correct) and the incorrect answers (split on ";"), each
stripped and ending in "."; the options are rotated by `ord(best_answer[0]) % len(options)` so the
correct letter varies. The first 20% of questions (163) are the train split (in-context examples),
the rest (654) the valid split.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from evaluator.core import CORRECT_TAG, TRAIN_SPLIT, VALID_SPLIT, Instance, Reference
from evaluator.data import DataSource
from evaluator.errors import ScenarioDataError
from evaluator.scenarios.base import register_scenario, with_instance_ids

TRUTHFUL_QA_FILE = "truthful_qa/data/v1/TruthfulQA.csv"
MC_SINGLE = "mc_single"
TRAIN_RATIO = 0.2


def format_answer(text: str) -> str:
    """HELM's format_str: stripped, with a final "." added when missing."""
    formatted = text.strip()
    if not formatted:
        raise ScenarioDataError("TruthfulQA answer is empty")
    return formatted if formatted.endswith(".") else formatted + "."


def split_answers(answers: str) -> list[str]:
    """HELM's split_multiple_answer_string: ";"-separated, empty parts dropped."""
    return [format_answer(part) for part in answers.split(";") if part.strip()]


def mc_single_references(best_answer: str, incorrect_answers: list[str]) -> tuple[Reference, ...]:
    """Incorrect answers then the best one, rotated left by ord(first character) % count."""
    references = [Reference(answer) for answer in incorrect_answers]
    references.append(Reference(best_answer, (CORRECT_TAG,)))
    k = ord(best_answer[0]) % len(references)
    return tuple(references[k:] + references[:k])


def parse_truthful_qa_csv(data: bytes, source: str) -> list[Instance]:
    # HELM opens the file as text with encoding="utf-8" (not utf-8-sig): the BOM stays in the
    # header row, which is skipped anyway; universal newlines apply inside quoted fields.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()
    rows = list(csv.reader(io.StringIO(text)))[1:]
    split_k = int(len(rows) * TRAIN_RATIO)
    instances: list[Instance] = []
    for index, row in enumerate(rows):
        if len(row) != 7:
            raise ScenarioDataError(f"{source} row {index + 2}: expected 7 columns, got {len(row)}")
        _type, _category, question, best_answer, _correct, incorrect, _source = row
        references = mc_single_references(format_answer(best_answer), split_answers(incorrect))
        split = TRAIN_SPLIT if index < split_k else VALID_SPLIT
        instances.append(Instance(input=question.strip(), references=references, split=split))
    return instances


@register_scenario("truthful_qa")
class TruthfulQAScenario:
    """TruthfulQA multiple choice with a single true answer."""

    version = "1"

    def __init__(self, task: str) -> None:
        if task != MC_SINGLE:
            raise ValueError(f"TruthfulQA task {task!r} is not supported (only {MC_SINGLE!r})")
        self.task = task

    def files(self) -> list[str]:
        return [TRUTHFUL_QA_FILE]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        raw = data.read_bytes(TRUTHFUL_QA_FILE, pins[TRUTHFUL_QA_FILE])
        return with_instance_ids(parse_truthful_qa_csv(raw, TRUTHFUL_QA_FILE))
