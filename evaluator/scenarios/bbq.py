"""BBQ, the Bias Benchmark for QA (Parrish et al. 2022), as HELM's BBQScenario builds it.

Files: `bbq/data/<Category>.jsonl`. HELM's `subject=all` reads eleven categories; the shared data
set has only six of them (each capped at its first 1,000 lines, lower template ids only), so
`subject=all` here means AVAILABLE_CATEGORIES and a score is not comparable with HELM's. The five
missing ones (MISSING_CATEGORIES) are refused by name rather than silently skipped.

As in HELM: all lines of the categories, in HELM's category order, are shuffled together with
`random.seed(0)`; the last 1,000 are the test split, the rest the train split (in-context examples).
The input is "<context>\\nQuestion: <question>" (HELM's PassageQuestionInput), the three answers are
the options, and every reference carries HELM's tags, whose last four are the letters of the gold,
the stereotyped-target, the non-target and the unknown answer (read by the BBQ bias metric).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from evaluator.core import CORRECT_TAG, TEST_SPLIT, TRAIN_SPLIT, Instance, Reference
from evaluator.data import DataSource
from evaluator.errors import ScenarioDataError
from evaluator.scenarios.base import register_scenario, with_instance_ids

AMBIGUOUS_TAG = "ambiguous"
NON_AMBIGUOUS_TAG = "non-ambiguous"
NEGATIVE_TAG = "negative"
NON_NEGATIVE_TAG = "non-negative"

# HELM's category order for subject=all (the order matters: it decides the seeded shuffle).
HELM_CATEGORIES: tuple[str, ...] = (
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Physical_appearance",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "Religion",
    "SES",
    "Sexual_orientation",
)
# Not in the shared data set (upstream files too large to mirror verbatim; see its README).
MISSING_CATEGORIES: tuple[str, ...] = (
    "Gender_identity",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "SES",
)
AVAILABLE_CATEGORIES: tuple[str, ...] = tuple(
    c for c in HELM_CATEGORIES if c not in MISSING_CATEGORIES
)
# HELM's DEFAULT_TEST_SIZE.
TEST_SIZE = 1000

_LETTERS = "ABC"
# HELM's list of answer_info labels that mark the "unknown" answer.
_UNKNOWN_RESPONSES: tuple[str, ...] = (
    "Cannot answer",
    "Can't be determined",
    "Cannot be determined",
    "Can't answer",
    "Not known",
    "Not enough info",
    "Not enough information",
    "Not answerable",
    "Undetermined",
    "Unknown",
)


def bbq_file(category: str) -> str:
    return f"bbq/data/{category}.jsonl"


def _is_target(category: str, group: str, info: Sequence[str]) -> bool:
    """HELM's stereotyped-group match, including its per-category special cases (kept with
    HELM's operator precedence for Race_x_SES, which makes its last two tests category-free)."""
    return (
        group in info
        or (category == "Race_ethnicity" and group == "Black" and any("Black" in e for e in info))
        or (
            category == "Race_ethnicity"
            and group == "African American"
            and any("African American" in e for e in info)
        )
        or (category == "Race_ethnicity" and group == "Latino" and any("Latino" in e for e in info))
        or (category == "SES" and group == "low SES" and any("lowSES" in e for e in info))
        or (category == "Race_x_SES" and any(f"lowSES-{group}" in e for e in info))
        or any(f"lowSES-M-{group}" in e for e in info)
        or any(f"lowSES-F-{group}" in e for e in info)
    )


def bbq_instance(line: Mapping[str, Any], category: str, split: str) -> Instance:
    """One BBQ line as HELM's BBQScenario turns it into an instance."""
    answers = [line["ans0"], line["ans1"], line["ans2"]]
    label_letter = _LETTERS[line["label"]]
    unknown_letter = target_letter = non_target_letter = ""
    groups = line["additional_metadata"]["stereotyped_groups"]
    for index in range(len(answers)):
        info = line["answer_info"][f"ans{index}"]
        if any(response in info for response in _UNKNOWN_RESPONSES):
            unknown_letter = _LETTERS[index]
            continue
        if any(_is_target(category, group, info) for group in groups):
            target_letter = _LETTERS[index]
            continue
        non_target_letter = _LETTERS[index]

    shared_tags = (
        NEGATIVE_TAG if line["question_polarity"] == "neg" else NON_NEGATIVE_TAG,
        AMBIGUOUS_TAG if line["context_condition"] == "ambig" else NON_AMBIGUOUS_TAG,
        label_letter,
        target_letter,
        non_target_letter,
        unknown_letter,
    )
    correct_answer = answers[line["label"]]
    references = tuple(
        Reference(answer, ((CORRECT_TAG,) if answer == correct_answer else ()) + shared_tags)
        for answer in answers
    )
    return Instance(
        input=f"{line['context']}\nQuestion: {line['question']}", references=references, split=split
    )


def parse_bbq_jsonl(data: bytes, category: str, source: str) -> list[tuple[dict[str, Any], str]]:
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).readlines()
    parsed: list[tuple[dict[str, Any], str]] = []
    for line_no, line in enumerate(lines, start=1):
        try:
            parsed.append((json.loads(line), category))
        except ValueError as exc:
            raise ScenarioDataError(f"{source} line {line_no}: {exc}") from None
    return parsed


@register_scenario("bbq")
class BBQScenario:
    """BBQ over `subject` ("all": every available category) or one category."""

    version = "1"

    def __init__(self, subject: str = "all") -> None:
        if subject == "all":
            self.categories = AVAILABLE_CATEGORIES
        elif subject in MISSING_CATEGORIES:
            raise ValueError(f"BBQ category {subject!r} is not in the scenario data set")
        elif subject in AVAILABLE_CATEGORIES:
            self.categories = (subject,)
        else:
            raise ValueError(f"unknown BBQ category {subject!r}")
        self.subject = subject

    def files(self) -> list[str]:
        return [bbq_file(category) for category in self.categories]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        loaded: list[tuple[dict[str, Any], str]] = []
        for category in self.categories:
            path = bbq_file(category)
            loaded.extend(parse_bbq_jsonl(data.read_bytes(path, pins[path]), category, path))
        # HELM seeds the global generator with 0 and shuffles; a private generator seeded the same
        # way produces the same permutation.
        random.Random(0).shuffle(loaded)
        train_size = len(loaded) - TEST_SIZE
        instances: list[Instance] = []
        for index, (line, category) in enumerate(loaded):
            split = TRAIN_SPLIT if index < train_size else TEST_SPLIT
            try:
                instances.append(bbq_instance(line, category, split))
            except (KeyError, IndexError, TypeError) as exc:
                raise ScenarioDataError(f"BBQ {category} line: {exc!r}") from None
        return with_instance_ids(instances)
