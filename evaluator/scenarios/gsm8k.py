"""GSM8K (Cobbe et al. 2021) as HELM's GSM8KScenario reads it.

Files: `gsm8k/{train,test}.jsonl`, one {"question", "answer"} object per line; the answer's worked
solution ends with "#### <number>". HELM rewrites "####" as "The answer is", joins the lines with
spaces and appends "." (chain-of-thought style, Wei et al. 2022).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from evaluator.core import CORRECT_TAG, TEST_SPLIT, TRAIN_SPLIT, Instance, Reference
from evaluator.data import DataSource
from evaluator.errors import ScenarioDataError
from evaluator.scenarios.base import register_scenario, with_instance_ids

_FILES: tuple[tuple[str, str], ...] = (
    ("gsm8k/train.jsonl", TRAIN_SPLIT),
    ("gsm8k/test.jsonl", TEST_SPLIT),
)


def helm_gsm_answer(answer: str) -> str:
    return answer.replace("####", "The answer is").replace("\n", " ") + "."


def parse_gsm_jsonl(data: bytes, split: str, source: str) -> list[Instance]:
    instances: list[Instance] = []
    # HELM reads the file in text mode with readlines(): universal newlines, "\n" kept.
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).readlines()
    for line_no, line in enumerate(lines, start=1):
        try:
            example = json.loads(line)
            question, answer = example["question"], example["answer"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ScenarioDataError(f"{source} line {line_no}: {exc}") from None
        reference = Reference(output=helm_gsm_answer(answer), tags=(CORRECT_TAG,))
        instances.append(Instance(input=question, references=(reference,), split=split))
    return instances


@register_scenario("gsm")
class GSM8KScenario:
    """All of GSM8K: train (in-context examples) and test."""

    version = "1"

    def files(self) -> list[str]:
        return [path for path, _ in _FILES]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        instances: list[Instance] = []
        for path, split in _FILES:
            instances.extend(parse_gsm_jsonl(data.read_bytes(path, pins[path]), split, path))
        return with_instance_ids(instances)
