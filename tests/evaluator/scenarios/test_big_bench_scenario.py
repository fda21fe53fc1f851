"""BIG-bench JSON tasks, as HELM's BIGBenchScenario reads them and get_big_bench_spec adapts them.

The task table in `evaluator.scenarios.big_bench` is checked against the pinned task files, so
what HELM reads from a task.json at run-spec time cannot drift from what Podium transcribed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator import DataSource, get_suite
from evaluator.core import TEST_SPLIT, VALID_SPLIT
from evaluator.planning import plan_run_spec
from evaluator.scenarios.big_bench import BIG_BENCH_TASKS, BigBenchScenario, big_bench_file
from evaluator.scenarios.big_bench_hard import big_bench_splits, parse_big_bench_task
from evaluator.specs import ADAPT_GENERATION, ADAPT_MULTIPLE_CHOICE_JOINT
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import big_bench_run_spec
from tests.conftest import SCENARIO_DATA


@pytest.mark.parametrize(("task", "subtask"), sorted(BIG_BENCH_TASKS))
def test_the_task_table_matches_the_task_file(task: str, subtask: str) -> None:
    path = big_bench_file(task, subtask)
    raw = json.loads((SCENARIO_DATA / path).read_text(encoding="utf-8"))
    entry = BIG_BENCH_TASKS[(task, subtask)]
    # The defaults are HELM's (get_big_bench_spec), used when the task file has no such key.
    assert entry.metrics == tuple(raw["metrics"])
    assert entry.task_prefix == raw.get("task_prefix", "")
    assert entry.input_prefix == raw.get("example_input_prefix", "Question: ")
    assert entry.output_prefix == raw.get("example_output_prefix", "Answer: ")
    assert entry.stop_string == raw.get("stop_string")
    assert path in DATA_PINS


def test_target_scores_give_references_in_file_order_highest_correct() -> None:
    example = {"input": "q", "target_scores": {"x": 0, "y": 1, "z": 0.5}}
    raw = json.dumps({"examples": [example] * 20}).encode()
    refs = parse_big_bench_task(raw, "inline")[0].references
    assert [(r.output, r.is_correct) for r in refs] == [("x", False), ("y", True), ("z", False)]


def test_method_and_metrics_follow_the_task_metrics() -> None:
    mc = big_bench_run_spec("strategyqa", "", DATA_PINS, max_eval_instances=5)
    # multiple_choice_grade wins over the task's rouge and bleu: exact match only.
    assert mc.adapter.method == ADAPT_MULTIPLE_CHOICE_JOINT
    assert mc.metrics == ("exact_match", "quasi_exact_match")
    gen = big_bench_run_spec("linguistics_puzzles", "", DATA_PINS, max_eval_instances=5)
    assert gen.adapter.method == ADAPT_GENERATION
    assert gen.metrics == ("exact_match", "quasi_exact_match", "rouge_1", "rouge_2", "rouge_l")
    assert gen.main_metric == "exact_match"
    ops = big_bench_run_spec("operators", "", DATA_PINS, max_eval_instances=5)
    assert ops.adapter.stop_sequences == ("\n",)
    assert (ops.adapter.max_tokens, ops.adapter.temperature, ops.adapter.num_outputs) == (64, 0, 1)


def test_subtask_splits_and_seeded_shuffle(data: DataSource) -> None:
    instances = BigBenchScenario("strange_stories", "boolean").load(data, DATA_PINS)
    assert len(instances) == 53
    num_train, num_test = big_bench_splits(53)
    assert (num_train, num_test) == (21, 16)
    assert [i.split for i in instances[num_train:]] == [TEST_SPLIT] * 16 + [VALID_SPLIT] * 16


def _first_prompt(data: DataSource, name: str) -> str:
    spec = next(s for s in get_suite("neurips2023-final-open").run_specs if s.name == name)
    plan = plan_run_spec(spec, data)
    return plan.adapter.build_prompt(plan.train_examples, plan.eval_instances[0]).text


def test_generation_prompt_uses_the_task_prefixes(data: DataSource) -> None:
    # operators: task_prefix as instructions, "\n" input prefix, " = " output prefix; one shot.
    prompt = _first_prompt(
        data, "big_bench:task=operators,max_train_instances=1,max_eval_instances=61"
    )
    assert prompt == (
        "Given the definition of the op operator, compute the result.\n"
        "\ni op j is the remainder of the integer division of i by j.\n15 op 3\n = 0\n"
        "\n\ni op j is the remainder of the integer division of i by j.\n5 op 3\n ="
    )


def test_multiple_choice_prompt_lists_the_target_scores(data: DataSource) -> None:
    prompt = _first_prompt(
        data,
        "big_bench:task=strange_stories,subtask=boolean,max_train_instances=0,max_eval_instances=30",
    )
    assert prompt.startswith("Context: Today, Katy wants to go on the swings")
    assert prompt.endswith("Q: Is it true what Katy says?\nA. no\nB. yes\n\nA:")


GOLDENS = Path(__file__).resolve().parents[1] / "goldens" / "big_bench_helm_0_5_16.json"


def _helm_goldens() -> dict[str, dict[str, object]]:
    runs: dict[str, dict[str, object]] = json.loads(GOLDENS.read_text(encoding="utf-8"))[
        "run_specs"
    ]
    return runs


@pytest.mark.parametrize("helm_name", sorted(_helm_goldens()))
def test_prompts_and_requests_are_helms(data: DataSource, helm_name: str) -> None:
    # Taken from a real HELM 0.5.16 run of the organizers' conf entries (scenario_state.json):
    # the same instances, in the same order, with byte-identical prompts and decoding settings.
    golden = _helm_goldens()[helm_name]
    spec = next(s for s in get_suite("neurips2023-final-open").run_specs if s.name == helm_name)
    plan = plan_run_spec(spec, data)
    prompts = golden["prompts"]
    assert isinstance(prompts, dict)
    mine = {
        i.id: plan.adapter.build_prompt(plan.train_examples, i).text
        for i in plan.eval_instances[: len(prompts)]
    }
    assert mine == prompts
    request = golden["request"]
    assert isinstance(request, dict)
    adapter = spec.adapter
    assert request["max_tokens"] == adapter.max_tokens
    assert request["temperature"] == adapter.temperature
    assert request["num_completions"] == adapter.num_outputs
    assert request["stop_sequences"] == list(adapter.stop_sequences)
