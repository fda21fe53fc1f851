"""BIG-bench JSON tasks, read and adapted as HELM's `BIGBenchScenario` and `get_big_bench_spec`.

Files: `big_bench/<task>/[<subtask>/]task.json`, byte copies from the bigbench 1.0.0 source
distribution (the data set's `big_bench/MANIFEST.json` pins them). HELM's rules, reproduced here:

- the examples are shuffled with `random.seed(0)`; the test split is `max(int(0.2 * total), 16)`
  examples, the valid split as many, the rest is train (`big_bench_splits`);
- an example's references come from `target_scores` (correct: the targets with the highest
  score, in the file's order) or else from `target` (every target correct);
- the adaptation method is `multiple_choice_joint` when the task lists `multiple_choice_grade`
  among its metrics, otherwise `generation`;
- the adapter: instructions = `task_prefix`, input prefix = `example_input_prefix` (HELM's
  default "Question: "), output prefix = `example_output_prefix` ("Answer: "), 64 tokens,
  temperature 0, one output, `stop_string` as the only stop sequence, 5 in-context examples
  unless a run expander says otherwise;
- metrics: `multiple_choice_grade` gives exact and quasi-exact match only; otherwise
  `exact_str_match` gives exact and quasi-exact match, `rouge` ROUGE-1/2/L, `bleu` BLEU-1/4.
  Exact match is the score (HELM's "BIG-bench - EM"). BLEU is not implemented by Podium: tasks
  that list it (linguistics_puzzles) report no BLEU column; their score is unaffected.

HELM reads these task parameters from the task file while building the run spec. Podium builds
suites without touching data, so they are transcribed below from the pinned files; a test reads
the files and checks the table, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from evaluator.core import Instance
from evaluator.data import DataSource
from evaluator.scenarios.base import register_scenario
from evaluator.scenarios.big_bench_hard import parse_big_bench_task
from evaluator.scenarios.big_bench_tasks import BIG_BENCH_TASKS, BigBenchTask


def big_bench_file(task: str, subtask: str) -> str:
    return f"big_bench/{task}/{subtask}/task.json" if subtask else f"big_bench/{task}/task.json"


def big_bench_task(task: str, subtask: str) -> BigBenchTask:
    """The task's parameters; ValueError naming the known tasks when it is not in the data."""
    try:
        return BIG_BENCH_TASKS[(task, subtask)]
    except KeyError:
        known = sorted(f"{t}/{s}" if s else t for t, s in BIG_BENCH_TASKS)
        raise ValueError(
            f"BIG-bench task {task!r}{f' subtask {subtask!r}' if subtask else ''} is not in the "
            f"scenario data set; available: {', '.join(known)}"
        ) from None


@register_scenario("big_bench")
class BigBenchScenario:
    """One BIG-bench JSON task (or subtask)."""

    version = "1"

    def __init__(self, task: str, subtask: str = "") -> None:
        big_bench_task(task, subtask)
        self.task, self.subtask = task, subtask

    def files(self) -> list[str]:
        return [big_bench_file(self.task, self.subtask)]

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        path = big_bench_file(self.task, self.subtask)
        return parse_big_bench_task(data.read_bytes(path, pins[path]), path, with_ids=True)
