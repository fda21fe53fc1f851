"""Golden prompts of HELM's generation adapter, as GSM8K uses it."""

from __future__ import annotations

from evaluator import DataSource
from evaluator.adapters.generation import GenerationAdapter
from evaluator.core import CORRECT_TAG, TEST_SPLIT, TRAIN_SPLIT, Instance, Reference
from evaluator.planning import plan_run_spec
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import gsm_run_spec


def _gsm(question: str, answer: str, split: str = TRAIN_SPLIT) -> Instance:
    return Instance(question, (Reference(answer, (CORRECT_TAG,)),), split)


def test_gsm_prompt_format_golden() -> None:
    # get_generation_adapter_spec(input_noun="Q", output_noun="A"): "Q: " / "A: " prefixes,
    # "\n" after each, blocks joined by "\n" (a blank line), the evaluated block ends at "A:".
    spec = gsm_run_spec(DATA_PINS, max_eval_instances=1).adapter
    adapter = GenerationAdapter(spec)
    train = [_gsm("1+1?", "1+1=2 The answer is 2."), _gsm("2*3?", "2*3=6 The answer is 6.")]
    evaluated = _gsm("5-4?", "The answer is 1.", TEST_SPLIT)
    prompt = adapter.build_prompt(train, evaluated)
    assert prompt.text == (
        "Q: 1+1?\nA: 1+1=2 The answer is 2.\n\nQ: 2*3?\nA: 2*3=6 The answer is 6.\n\nQ: 5-4?\nA:"
    )
    request = adapter.make_request(evaluated, prompt).request
    # HELM's GenerationAdapter: the spec's stop sequences are sent (unlike multiple choice).
    assert (request.max_tokens, request.stop_sequences, request.temperature) == (
        400,
        ("\n\n",),
        0.0,
    )
    assert (request.num_completions, request.top_k_per_token) == (1, 1)


def test_gsm_instances_and_examples_are_helms_draws(data: DataSource) -> None:
    plan = plan_run_spec(gsm_run_spec(DATA_PINS, max_eval_instances=5), data)
    # numpy seed 0 over the 1319 test instances: [658, 406, 1202, 202, 1187] (+ 7473 train).
    assert [i.id for i in plan.eval_instances] == ["id8131", "id7879", "id8675", "id7675", "id8660"]
    # sample_examples with random.seed(0): every answer text is its own label, so this is the
    # order of a seeded shuffle of the sorted answers.
    assert [i.id for i in plan.train_examples] == ["id162", "id5795", "id5430", "id5542", "id94"]
    text = plan.adapter.build_prompt(plan.train_examples, plan.eval_instances[0]).text
    assert text.startswith(f"Q: {plan.train_examples[0].input}\nA: ")
    assert text.endswith(f"\n\nQ: {plan.eval_instances[0].input}\nA:")
    assert text.count("\n\nQ: ") == 5
