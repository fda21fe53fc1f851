"""BIG-Bench Hard tasks (Suzgun et al. 2022) read the way HELM's BIGBenchScenario reads a BIG-bench
JSON task.

Files: `big_bench_hard/bbh/<task>.json`, `{"canary": ..., "examples": [{"input", "target"}]}`. The
NeurIPS 2023 challenge ran HELM's `big_bench` run specs on the original BIG-bench `task.json` files,
which the shared data set does not have; the BBH files hold the same task families (with the options
written into the input and the answer as its label, e.g. "(B)"), so they are read with HELM's
BIG-bench rules:

- the examples are shuffled with `random.seed(0)`;
- the first `total - 2 * n_test` are the train split (the in-context examples), the next `n_test`
  the test split and the last `n_test` the valid split, with `n_test = max(int(0.2 * total), 16)`
  (250 examples: 150 train, 50 test, 50 valid);
- a "target" (a string or a list of strings) gives correct references, one per target.

The chain-of-thought prompts in `cot-prompts/` are not used: HELM's BIG-bench adaptation never uses
them, it draws its in-context examples from the train split.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

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
from evaluator.scenarios.base import register_scenario

# The BBH tasks the shared data set holds.
BBH_TASKS: tuple[str, ...] = (
    "date_understanding",
    "logical_deduction_three_objects",
    "boolean_expressions",
)
# HELM's BIGBenchScenario.MIN_TEST_EXAMPLES.
MIN_TEST_EXAMPLES = 16


def bbh_file(task: str) -> str:
    return f"big_bench_hard/bbh/{task}.json"


def big_bench_splits(total: int) -> tuple[int, int]:
    """(train size, test size) of a BIG-bench task with `total` examples; valid = test size."""
    num_test = max(int(0.2 * total), MIN_TEST_EXAMPLES)
    return total - 2 * num_test, num_test


def _references(
    example: Mapping[str, Any], seen: dict[Any, tuple[Reference, ...]]
) -> tuple[Reference, ...]:
    """HELM's BIGBenchScenario: from "target_scores" (in file order, correct: the highest score)
    when present, else from "target" (a string or a list, every one correct).

    `seen` maps the raw targets to the references already built for them: most tasks repeat a
    few option sets (vitaminc's "True"/"False"/"Neither" over 50,000 examples), and references
    are frozen, so equal targets can share one tuple.
    """
    if "target_scores" in example:
        scores: Mapping[str, float] = example["target_scores"]
        # Equal scores (1 and 1.0) make the same references: only comparisons with the best
        # score matter, never the score's type.
        key: Any = ("scores", *scores.items())
        built = seen.get(key)
        if built is None:
            best = max(scores.values())
            built = seen[key] = tuple(
                Reference(str(t), (CORRECT_TAG,) if score == best else ())
                for t, score in scores.items()
            )
        return built
    target = example["target"]
    targets = target if isinstance(target, list) else [target]
    if not all(isinstance(t, str) for t in targets):
        # 1, 1.0 and True are equal keys but different texts: only strings are shared.
        return tuple(Reference(str(t), (CORRECT_TAG,)) for t in targets)
    key = ("target", *targets)
    built = seen.get(key)
    if built is None:
        built = seen[key] = tuple(Reference(t, (CORRECT_TAG,)) for t in targets)
    return built


def parse_big_bench_task(data: bytes, source: str, *, with_ids: bool = False) -> list[Instance]:
    """The task's examples as instances, in HELM's order and splits; `with_ids` numbers them as
    `with_instance_ids` would (built with their ids directly: a copy per instance is not free
    at 50,000 examples)."""
    try:
        examples: list[dict[str, Any]] = list(json.loads(data.decode("utf-8"))["examples"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioDataError(f"{source}: {exc!r}") from None
    # HELM seeds the global generator with 0 and shuffles; a private generator seeded the same
    # way produces the same permutation.
    random.Random(0).shuffle(examples)
    num_train, num_test = big_bench_splits(len(examples))
    seen: dict[Any, tuple[Reference, ...]] = {}
    instances: list[Instance] = []
    for index, example in enumerate(examples):
        if index < num_train:
            split = TRAIN_SPLIT
        elif index < num_train + num_test:
            split = TEST_SPLIT
        else:
            split = VALID_SPLIT
        try:
            text, references = example["input"], _references(example, seen)
        except (KeyError, TypeError) as exc:
            raise ScenarioDataError(f"{source} example {index}: {exc!r}") from None
        instances.append(Instance(text, references, split, f"id{index}" if with_ids else ""))
    return instances


@register_scenario("big_bench_hard")
class BigBenchHardScenario:
    """One BBH task."""

    version = "1"

    def __init__(self, task: str) -> None:
        if task not in BBH_TASKS:
            raise ValueError(f"BBH task {task!r} is not in the scenario data set ({BBH_TASKS})")
        self.task = task

    def files(self) -> list[str]:
        return [bbh_file(self.task)]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        path = bbh_file(self.task)
        return parse_big_bench_task(data.read_bytes(path, pins[path]), path, with_ids=True)
