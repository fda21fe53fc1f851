"""SciTLDR-A (Cachola et al. 2020): one-sentence summaries of paper abstracts, read with the rules
of HELM's SummarizationScenario for XSum, whose place it takes (XSum and CNN/DailyMail are not
openly licensed; SciTLDR is extreme summarization like XSum).

Files: `scitldr/SciTLDR-A/{train,test}.jsonl`, `{"source": [sentences], "target": [TLDRs], ...}`.

- The article is the source sentences joined by spaces, whitespace-normalised and cut to its first
  512 words (HELM's `_clean_and_truncate`, doc_max_length=512); each target is normalised the same
  way, uncut.
- Train articles outside 50..150 words are dropped (HELM's sampling_min/max_length for XSum), so the
  in-context examples stay short.
- Every target of a test paper is a correct reference (SciTLDR has 2-4 per paper); ROUGE takes the
  best of them, as HELM's SummarizationMetric does over references. In-context examples show the
  first target.
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
    ("scitldr/SciTLDR-A/train.jsonl", TRAIN_SPLIT),
    ("scitldr/SciTLDR-A/test.jsonl", TEST_SPLIT),
)
DOC_MAX_LENGTH = 512
SAMPLING_MIN_LENGTH = 50
SAMPLING_MAX_LENGTH = 150


def clean_and_truncate(text: str, max_length: int | None = None) -> str:
    """HELM's _clean_and_truncate: newlines to spaces, whitespace collapsed, first words kept."""
    return " ".join(text.replace("\n", " ").split()[:max_length])


def parse_scitldr_jsonl(data: bytes, split: str, source: str) -> list[Instance]:
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).readlines()
    instances: list[Instance] = []
    for line_no, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            article = clean_and_truncate(" ".join(record["source"]), DOC_MAX_LENGTH)
            summaries = [clean_and_truncate(target) for target in record["target"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ScenarioDataError(f"{source} line {line_no}: {exc!r}") from None
        if not summaries:
            raise ScenarioDataError(f"{source} line {line_no}: no target summary")
        if split == TRAIN_SPLIT:
            length = len(article.split())
            if not SAMPLING_MIN_LENGTH <= length <= SAMPLING_MAX_LENGTH:
                continue
        references = tuple(Reference(summary, (CORRECT_TAG,)) for summary in summaries)
        instances.append(Instance(input=article, references=references, split=split))
    return instances


@register_scenario("scitldr")
class SciTLDRScenario:
    """SciTLDR-A: train (in-context examples) and test."""

    version = "1"

    def files(self) -> list[str]:
        return [path for path, _ in _FILES]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        instances: list[Instance] = []
        for path, split in _FILES:
            instances.extend(parse_scitldr_jsonl(data.read_bytes(path, pins[path]), split, path))
        return with_instance_ids(instances)
