"""Window fitting as HELM's _make_prompt_fit: drop examples from the end, then truncate."""

from __future__ import annotations

import asyncio

from evaluator import DataSource, get_suite
from evaluator.adapters import Prompt, fit_prompt
from evaluator.planning import RunPlan, plan_suite


class WordCounter:
    """A tokenizer of whitespace-separated words; `decode` off mimics servers without /decode."""

    def __init__(self, decode: bool = True) -> None:
        self.decode = decode
        self.calls = 0

    async def num_tokens(self, text: str) -> int:
        self.calls += 1
        return len(text.split())

    async def truncate_tokens(self, text: str, max_length: int) -> str | None:
        return " ".join(text.split()[:max_length]) if self.decode else None


def _plan(data: DataSource) -> RunPlan:
    return plan_suite(get_suite("smoke").run_specs, data)[0]


def _fit(prompt: Prompt, counter: WordCounter, window: int) -> Prompt:
    return asyncio.run(fit_prompt(prompt, counter, window, completion_tokens=1))


def test_prompt_that_fits_is_unchanged(data: DataSource) -> None:
    plan = _plan(data)
    prompt = plan.adapter.build_prompt(plan.train_examples, plan.eval_instances[0])
    assert _fit(prompt, WordCounter(), 2048) == prompt


def test_examples_are_dropped_from_the_end_until_it_fits(data: DataSource) -> None:
    plan = _plan(data)
    instance = plan.eval_instances[0]
    with_three = plan.adapter.build_prompt(plan.train_examples[:3], instance)
    with_four = plan.adapter.build_prompt(plan.train_examples[:4], instance)
    words_three = len(with_three.text.split())
    assert words_three < len(with_four.text.split())
    # Room for three examples plus the one generated token, not for four.
    fitted = _fit(
        plan.adapter.build_prompt(plan.train_examples, instance), WordCounter(), words_three + 1
    )
    assert fitted.num_train_instances == 3
    assert fitted.text == with_three.text
    assert not fitted.truncated


def test_truncates_from_the_right_when_no_example_is_left(data: DataSource) -> None:
    plan = _plan(data)
    prompt = plan.adapter.build_prompt(plan.train_examples, plan.eval_instances[0])
    zero_shot_words = plan.adapter.build_prompt((), plan.eval_instances[0]).text.split()
    fitted = _fit(prompt, WordCounter(decode=True), window=11)
    assert fitted.num_train_instances == 0
    assert fitted.truncated
    # The server's truncation to 10 tokens, decoded: ten words plus the generated token fill
    # the window exactly.
    assert fitted.text == " ".join(zero_shot_words[:10])


def test_without_decode_truncation_keeps_the_longest_fitting_prefix(data: DataSource) -> None:
    plan = _plan(data)
    prompt = plan.adapter.build_prompt((), plan.eval_instances[0])
    fitted = _fit(prompt, WordCounter(decode=False), window=11)
    text = prompt.text
    assert fitted.text == text[: len(fitted.text)]
    assert len(fitted.text.split()) == 10
    # One more character would start an eleventh word.
    assert len(text[: len(fitted.text) + 1].split()) == 11


def test_zero_shot_prompt_uses_a_shorter_decoded_round_trip_as_helm() -> None:
    # HELM always encodes+decodes at zero examples; a shorter decoded text replaces the prompt
    # even if the original fits (here the decoder collapses the newline).
    prompt = Prompt(instructions_block="", train_instance_blocks=(), eval_instance_block="a\n\nb")
    fitted = _fit(prompt, WordCounter(decode=True), window=2048)
    assert fitted.text == "a b"
    assert _fit(prompt, WordCounter(decode=False), window=2048).text == "a\n\nb"
