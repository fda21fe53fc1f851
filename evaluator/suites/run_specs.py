"""Run spec builders, one per scenario, mirroring HELM's run spec functions."""

from __future__ import annotations

from collections.abc import Mapping

from evaluator.scenarios.gsm8k import GSM8KScenario
from evaluator.scenarios.mmlu import MMLUScenario, mmlu_instructions
from evaluator.specs import (
    ADAPT_MULTIPLE_CHOICE_JOINT,
    RunSpec,
    generation_spec,
    multiple_choice_joint_spec,
)


def mmlu_run_spec(
    subject: str,
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_mmlu_spec(subject, method=multiple_choice_joint): 5-shot, one-token answer."""
    files = MMLUScenario(subject).files()
    return RunSpec(
        name=f"mmlu:subject={subject},method={ADAPT_MULTIPLE_CHOICE_JOINT}",
        scenario="mmlu",
        scenario_args=(("subject", subject),),
        adapter=multiple_choice_joint_spec(
            instructions=mmlu_instructions(subject), input_noun="Question", output_noun="Answer"
        ),
        group="mmlu",
        metrics=("exact_match", "quasi_exact_match"),
        main_metric="exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )


def gsm_run_spec(
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_gsm_spec: 5-shot chain of thought, 400 tokens, stop at a blank line."""
    files = GSM8KScenario().files()
    return RunSpec(
        name="gsm",
        scenario="gsm",
        scenario_args=(),
        adapter=generation_spec(
            input_noun="Q",
            output_noun="A",
            max_train_instances=5,
            max_tokens=400,
            stop_sequences=("\n\n",),
        ),
        group="gsm",
        metrics=("final_number_exact_match", "exact_match_indicator"),
        main_metric="final_number_exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )
