"""BBH tasks read with HELM's BIGBenchScenario rules, prompted with get_big_bench_spec's adapter."""

from __future__ import annotations

import json

import pytest

from evaluator import DataSource, get_suite
from evaluator.core import TEST_SPLIT, TRAIN_SPLIT, VALID_SPLIT
from evaluator.planning import RunPlan, plan_run_spec
from evaluator.scenarios.big_bench_hard import (
    BigBenchHardScenario,
    big_bench_splits,
    parse_big_bench_task,
)
from evaluator.suites.pins import DATA_PINS


def _plan(data: DataSource, task: str, shots: int) -> RunPlan:
    name = f"big_bench_hard:task={task},max_train_instances={shots}"
    spec = next(s for s in get_suite("neurips2023-open").run_specs if s.name == name)
    return plan_run_spec(spec, data)


def _prompt(plan: RunPlan) -> str:
    return plan.adapter.build_prompt(plan.train_examples, plan.eval_instances[0]).text


def test_splits_follow_helms_big_bench_rule() -> None:
    # n_test = max(int(0.2 * total), 16); train = total - 2 * n_test; valid = n_test.
    assert big_bench_splits(250) == (150, 50)
    assert big_bench_splits(40) == (8, 16)


def test_examples_are_shuffled_with_seed_0_then_split(data: DataSource) -> None:
    instances = BigBenchHardScenario("boolean_expressions").load(data, DATA_PINS)
    assert [i.split for i in instances] == (
        [TRAIN_SPLIT] * 150 + [TEST_SPLIT] * 50 + [VALID_SPLIT] * 50
    )
    # random.seed(0); random.shuffle(examples): upstream example 0 ("not ( True ) and ( True )
    # is") lands elsewhere, and instance ids follow the shuffled order.
    assert instances[0].id == "id0"
    assert instances[0].input != "not ( True ) and ( True ) is"
    assert {i.input for i in instances} >= {"not ( True ) and ( True ) is"}


def test_a_target_list_gives_one_correct_reference_per_target() -> None:
    raw = json.dumps({"examples": [{"input": "q", "target": ["a", "b"]}] * 20}).encode()
    references = parse_big_bench_task(raw, "inline")[0].references
    assert [(r.output, r.is_correct) for r in references] == [("a", True), ("b", True)]


def test_only_tasks_in_the_data_set() -> None:
    with pytest.raises(ValueError, match="not in the scenario data set"):
        BigBenchHardScenario("navigate")


def test_zero_shot_prompt_is_helms(data: DataSource) -> None:
    # get_big_bench_spec: no task_prefix, so no instructions; "Question: " input prefix,
    # "Answer: " output prefix (right-stripped for the evaluated instance).
    plan = _plan(data, "boolean_expressions", 0)
    assert plan.eval_instances[0].id == "id176"
    assert _prompt(plan) == "Question: True or not ( ( False ) ) is\nAnswer:"


def test_one_shot_prompt_is_helms(data: DataSource) -> None:
    # The example is drawn from the 150 train examples by HELM's label-balanced draw (seed 0).
    plan = _plan(data, "boolean_expressions", 1)
    assert _prompt(plan) == (
        "Question: ( not False ) or ( True ) is\nAnswer: True\n"
        "\n"
        "Question: True or not ( ( False ) ) is\nAnswer:"
    )


DATE_UNDERSTANDING_3_SHOT = (
    # Three in-context examples (ids 125, 145, 81), each "Question: <input>\nAnswer: <target>\n",
    # joined by the "\n" instance prefix; the labels (B), (A), (E) are the label-balanced draw.
    "Question: Today is Sep 9, 1909. What is the date one year ago from today in MM/DD/YYYY?\n"
    "Options:\n(A) 09/09/1920\n(B) 09/09/1908\n(C) 07/05/1908\n(D) 09/09/1870\n(E) 09/04/1908\n"
    "(F) 09/13/1908\n"
    "Answer: (B)\n"
    "\n"
    "Question: Today is the last day of the first quarter of 2008. What is the date 24 hours "
    "later in MM/DD/YYYY?\n"
    "Options:\n(A) 04/01/2008\n(B) 01/17/2008\n(C) 03/31/2008\n(D) 04/01/2007\n(E) 04/01/2063\n"
    "(F) 03/22/2008\n"
    "Answer: (A)\n"
    "\n"
    "Question: Today is Sep 9, 1909. What is the date one week ago from today in MM/DD/YYYY?\n"
    "Options:\n(A) 09/02/1832\n(B) 05/02/1909\n(C) 09/02/1864\n(D) 09/02/1906\n(E) 09/02/1909\n"
    "(F) 08/19/1909\n"
    "Answer: (E)\n"
    "\n"
    "Question: The day before yesterday was 11/23/1933. What is the date 24 hours later in "
    "MM/DD/YYYY?\n"
    "Options:\n(A) 11/25/1933\n(B) 11/26/1933\n(C) 07/26/1934\n(D) 08/23/1933\n(E) 11/26/1976\n"
    "(F) 12/06/1933\n"
    "Answer:"
)


def test_three_shot_prompt_is_helms(data: DataSource) -> None:
    plan = _plan(data, "date_understanding", 3)
    assert [t.id for t in plan.train_examples] == ["id125", "id145", "id81"]
    assert _prompt(plan) == DATE_UNDERSTANDING_3_SHOT
    assert plan.eval_instances[0].references[0].output == "(B)"


def test_every_shot_count_evaluates_the_same_instances(data: DataSource) -> None:
    # numpy's seed-0 draw of 50 of the 100 valid+test examples does not depend on the shots, so
    # the four run specs of a task form a learning curve over one set of questions.
    drawn = {
        tuple(i.id for i in _plan(data, "logical_deduction_three_objects", k).eval_instances)
        for k in (0, 1, 2, 3)
    }
    assert len(drawn) == 1
    (ids,) = drawn
    assert len(ids) == 50 and ids[:3] == ("id176", "id236", "id152")


def test_request_is_helms_big_bench_generation(data: DataSource) -> None:
    plan = _plan(data, "date_understanding", 2)
    evaluated = plan.eval_instances[0]
    prepared = plan.adapter.make_request(
        evaluated, plan.adapter.build_prompt(plan.train_examples, evaluated)
    )
    request = prepared.request
    # max_tokens=64 (BIG-G's output length), greedy, one output, no stop_string in the task.
    assert (request.max_tokens, request.temperature, request.num_completions) == (64, 0.0, 1)
    assert request.stop_sequences == ()
    assert prepared.output_mapping == {}
