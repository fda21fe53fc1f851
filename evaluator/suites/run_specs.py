"""Run spec builders, one per scenario, mirroring HELM's run spec functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from evaluator.scenarios.bbq import BBQScenario
from evaluator.scenarios.big_bench import BigBenchScenario, big_bench_task
from evaluator.scenarios.big_bench_hard import BigBenchHardScenario
from evaluator.scenarios.gsm8k import GSM8KScenario
from evaluator.scenarios.mmlu import MMLUScenario, mmlu_instructions
from evaluator.scenarios.scitldr import SciTLDRScenario
from evaluator.scenarios.truthful_qa import MC_SINGLE, TruthfulQAScenario
from evaluator.specs import (
    ADAPT_GENERATION,
    ADAPT_MULTIPLE_CHOICE_JOINT,
    AdapterSpec,
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


def truthful_qa_run_spec(
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_truthful_qa_spec(task=mc_single, method=multiple_choice_joint): no instructions,
    "Question"/"Answer" nouns, 5-shot, one-token answer."""
    files = TruthfulQAScenario(MC_SINGLE).files()
    return RunSpec(
        name=f"truthful_qa:task={MC_SINGLE},method={ADAPT_MULTIPLE_CHOICE_JOINT}",
        scenario="truthful_qa",
        scenario_args=(("task", MC_SINGLE),),
        adapter=multiple_choice_joint_spec(
            instructions="", input_noun="Question", output_noun="Answer"
        ),
        group="truthful_qa",
        metrics=("exact_match", "quasi_exact_match"),
        main_metric="exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )


def bbq_run_spec(
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    subject: str = "all",
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_bbq_spec(subject, method=multiple_choice_joint): exact match is the score; HELM's
    BBQMetric (accuracy, ambiguous and disambiguated bias) is reported alongside."""
    files = BBQScenario(subject).files()
    return RunSpec(
        name=f"bbq:subject={subject},method={ADAPT_MULTIPLE_CHOICE_JOINT}",
        scenario="bbq",
        scenario_args=(("subject", subject),),
        adapter=multiple_choice_joint_spec(
            instructions="The following are multiple choice questions (with answers).",
            input_noun="Passage",
            output_noun="Answer",
        ),
        group="bbq",
        metrics=("exact_match", "quasi_exact_match", "bbq"),
        main_metric="exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )


def big_bench_adapter_spec(max_train_instances: int) -> AdapterSpec:
    """HELM's get_big_bench_spec adapter for a generative task (BBH tasks: no task_prefix, no
    example prefixes, no stop_string in the task file): "Question: " / "Answer: ", 64 tokens,
    greedy, no stop sequences; the shot count is MaxTrainInstancesRunExpander's."""
    return AdapterSpec(
        method=ADAPT_GENERATION,
        instructions="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        max_train_instances=max_train_instances,
        num_outputs=1,
        max_tokens=64,
        temperature=0.0,
        stop_sequences=(),
    )


def big_bench_hard_run_spec(
    task: str,
    max_train_instances: int,
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's big_bench run spec with `max_train_instances` expanded (the challenge's
    big_bench_few_shot_setting: 0, 1, 2, 3), on a BBH task file. Metrics are HELM's mapping of
    BIG-bench's exact_str_match (BBH is scored by exact match): exact and quasi-exact match."""
    files = BigBenchHardScenario(task).files()
    return RunSpec(
        name=f"big_bench_hard:task={task},max_train_instances={max_train_instances}",
        scenario="big_bench_hard",
        scenario_args=(("task", task),),
        adapter=big_bench_adapter_spec(max_train_instances),
        group="bbh",
        metrics=("exact_match", "quasi_exact_match"),
        main_metric="exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )


def big_bench_run_spec(
    task: str,
    subtask: str,
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_big_bench_spec(task, subtask); see `evaluator.scenarios.big_bench`. HELM's
    shot expander is `with_max_train_instances`."""
    definition = big_bench_task(task, subtask)
    metrics: list[str] = []
    if definition.multiple_choice:
        metrics = ["exact_match", "quasi_exact_match"]
    else:
        if "exact_str_match" in definition.metrics:
            metrics += ["exact_match", "quasi_exact_match"]
        if "rouge" in definition.metrics:
            metrics += ["rouge_1", "rouge_2", "rouge_l"]
    if "exact_match" not in metrics:
        raise ValueError(f"BIG-bench task {task!r} is not scored by exact match: {metrics}")
    name = f"big_bench:task={task}" + (f",subtask={subtask}" if subtask else "")
    files = BigBenchScenario(task, subtask).files()
    return RunSpec(
        name=name,
        scenario="big_bench",
        scenario_args=(("task", task), ("subtask", subtask)),
        adapter=AdapterSpec(
            method=(
                ADAPT_MULTIPLE_CHOICE_JOINT if definition.multiple_choice else ADAPT_GENERATION
            ),
            instructions=definition.task_prefix,
            input_prefix=definition.input_prefix,
            output_prefix=definition.output_prefix,
            max_train_instances=5,
            num_outputs=1,
            max_tokens=64,
            temperature=0.0,
            stop_sequences=(definition.stop_string,) if definition.stop_string else (),
        ),
        group="big_bench",
        metrics=tuple(metrics),
        main_metric="exact_match",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )


def with_max_train_instances(spec: RunSpec, shots: int) -> RunSpec:
    """HELM's MaxTrainInstancesRunExpander: `shots` in-context examples, and the name says so."""
    if shots < 0:
        raise ValueError(f"max_train_instances must be >= 0, got {shots}")
    return replace(
        spec,
        name=f"{spec.name},max_train_instances={shots}",
        adapter=replace(spec.adapter, max_train_instances=shots),
    )


def with_max_eval_instances(spec: RunSpec, count: int) -> RunSpec:
    """HELM's MaxEvalInstancesRunExpander (`max_eval_instances=N` in a run entry): the cap, and
    the name says so, as in HELM's run spec names."""
    if count < 1:
        raise ValueError(f"max_eval_instances must be >= 1, got {count}")
    return replace(spec, name=f"{spec.name},max_eval_instances={count}", max_eval_instances=count)


def summarization_adapter_spec(
    num_sents: int | None, *, max_tokens: int, temperature: float, max_train_instances: int = 5
) -> AdapterSpec:
    """HELM's get_summarization_adapter_spec: "###\nArticle: " blocks, a "Summarize the above
    article in N sentences." output prefix, stop at the next "###"."""
    if num_sents == 1:
        output_prefix = "Summarize the above article in 1 sentence.\n"
    elif num_sents is None:
        output_prefix = "Summarize the above article.\n"
    else:
        output_prefix = f"Summarize the above article in {num_sents} sentences.\n"
    return AdapterSpec(
        method=ADAPT_GENERATION,
        instructions="",
        input_prefix="###\nArticle: ",
        input_suffix="\n\n",
        output_prefix=output_prefix,
        output_suffix="\n",
        max_train_instances=max_train_instances,
        num_outputs=1,
        max_tokens=max_tokens,
        temperature=temperature,
        stop_sequences=("###",),
    )


def scitldr_run_spec(
    pins: Mapping[str, str],
    *,
    max_eval_instances: int | None,
    temperature: float = 0.3,
    eval_seed: int = 0,
    context_window: int = 2048,
) -> RunSpec:
    """HELM's get_xsum_summarization_spec on SciTLDR (one-sentence summaries, like XSum): 5-shot,
    64 tokens, temperature 0.3 (HELM's default), ROUGE-1/2/L with ROUGE-2 as the score."""
    files = SciTLDRScenario().files()
    return RunSpec(
        name=f"summarization_scitldr:temperature={temperature}",
        scenario="scitldr",
        scenario_args=(),
        adapter=summarization_adapter_spec(1, max_tokens=64, temperature=temperature),
        group="summarization",
        metrics=("rouge_1", "rouge_2", "rouge_l"),
        main_metric="rouge_2",
        max_eval_instances=max_eval_instances,
        eval_seed=eval_seed,
        context_window=context_window,
        data_files=tuple((path, pins[path]) for path in files),
    )
