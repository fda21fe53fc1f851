"""AdapterSpec and RunSpec: the declarative description of one evaluation run.

Field names and defaults follow HELM's `AdapterSpec` (adapter_spec.py) so a HELM run spec can be
transcribed field by field; only what Podium implements is present.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from evaluator.core import EVAL_SPLITS

ADAPT_MULTIPLE_CHOICE_JOINT = "multiple_choice_joint"
ADAPT_GENERATION = "generation"


@dataclass(frozen=True)
class AdapterSpec:
    """How instances become prompts and requests (HELM semantics, HELM defaults)."""

    # Adapter registry name, e.g. "multiple_choice_joint".
    method: str
    # Prompt starts with these instructions (HELM's format_instructions appends "\n").
    instructions: str = ""
    # What goes before the input.
    input_prefix: str = "Input: "
    # What goes after the input.
    input_suffix: str = "\n"
    # Prefix of the first multiple-choice option; its first alphanumeric character is counted up.
    reference_prefix: str = "A. "
    # What goes after each option.
    reference_suffix: str = "\n"
    # What goes before the output (the trailing space is stripped for the evaluated instance).
    output_prefix: str = "Output: "
    # What goes after an in-context example's output.
    output_suffix: str = "\n"
    # Separator placed between instructions and example blocks.
    instance_prefix: str = "\n"
    # Prepended to the whole prompt.
    global_prefix: str = ""
    # Appended to the whole prompt.
    global_suffix: str = ""
    # Maximum number of in-context examples.
    max_train_instances: int = 5
    # Outputs requested (HELM sends it as top_k_per_token for multiple_choice_joint).
    num_outputs: int = 5
    # Sample examples by HELM's label-balanced draw (True) or take them in order (False).
    sample_train: bool = True
    # Seed of the example draw; HELM uses the train trial index, 0 for a single trial.
    train_trial_seed: int = 0
    # Sampling temperature; 0 is greedy.
    temperature: float = 1.0
    # Maximum number of generated tokens.
    max_tokens: int = 100
    # Stop sequences of the run; also applied by the evaluator to the returned text.
    stop_sequences: tuple[str, ...] = ()
    # If true, every correct reference is part of the gold output.
    multi_label: bool = False


def multiple_choice_joint_spec(
    instructions: str,
    input_noun: str | None,
    output_noun: str,
    *,
    max_train_instances: int = 5,
    num_outputs: int = 5,
    max_tokens: int = 1,
    sample_train: bool = True,
) -> AdapterSpec:
    """HELM's get_multiple_choice_adapter_spec(method=multiple_choice_joint, ...)."""
    return AdapterSpec(
        method=ADAPT_MULTIPLE_CHOICE_JOINT,
        # HELM's format_instructions: a non-empty instruction gets a trailing newline, which the
        # "\n" instance_prefix then turns into a blank line before the first example.
        instructions=f"{instructions}\n" if instructions else "",
        input_prefix=f"{input_noun}: " if input_noun is not None else "",
        input_suffix="\n" if input_noun is not None else "",
        output_prefix=f"{output_noun}: ",
        output_suffix="\n",
        max_train_instances=max_train_instances,
        num_outputs=num_outputs,
        max_tokens=max_tokens,
        temperature=0.0,
        stop_sequences=("\n",),
        sample_train=sample_train,
    )


def generation_spec(
    *,
    instructions: str = "",
    input_noun: str | None = None,
    output_noun: str | None = None,
    max_train_instances: int = 5,
    num_outputs: int = 1,
    max_tokens: int = 5,
    stop_sequences: tuple[str, ...] = ("\n",),
    temperature: float = 0.0,
    multi_label: bool = False,
    sample_train: bool = True,
) -> AdapterSpec:
    """HELM's get_generation_adapter_spec (nouns followed by ": ", no newline after them)."""
    return AdapterSpec(
        method=ADAPT_GENERATION,
        instructions=f"{instructions}\n" if instructions else "",
        input_prefix=f"{input_noun}: " if input_noun is not None else "",
        input_suffix="\n",
        output_prefix=f"{output_noun}: " if output_noun is not None else "",
        output_suffix="\n",
        max_train_instances=max_train_instances,
        num_outputs=num_outputs,
        max_tokens=max_tokens,
        temperature=temperature,
        stop_sequences=stop_sequences,
        multi_label=multi_label,
        sample_train=sample_train,
    )


@dataclass(frozen=True)
class PerturbationSpec:
    """One perturbation applied to evaluation instances (HELM's PerturbationSpec, by registry name).

    The registry lives in `evaluator.perturbations`; `canonical_perturbations()` there builds HELM's
    `data_augmentation=canonical` list.
    """

    # Perturbation registry name, e.g. "mild_mix", "dialect".
    name: str
    # Constructor arguments as sorted (key, value) pairs, with HELM's names and values.
    args: tuple[tuple[str, str | int | float | bool | None], ...] = ()

    @property
    def kwargs(self) -> dict[str, str | int | float | bool | None]:
        return dict(self.args)


@dataclass(frozen=True)
class RunSpec:
    """One scenario configuration evaluated with one adapter and a set of metrics."""

    # Unique name inside a suite, HELM style, e.g. "mmlu:subject=anatomy,method=...".
    name: str
    # Scenario registry name, e.g. "mmlu".
    scenario: str
    # Scenario constructor arguments as sorted (key, value) pairs.
    scenario_args: tuple[tuple[str, str], ...]
    # Prompt and decoding settings.
    adapter: AdapterSpec
    # Group this run spec is scored under (SuiteResult.scores key), e.g. "mmlu".
    group: str
    # Metrics: reference metrics computed per instance, and run-level ones (e.g. "bbq") whose
    # values are aggregated over the run (evaluator.metrics.run_level).
    metrics: tuple[str, ...] = ("exact_match", "quasi_exact_match")
    # The metric that makes the run spec's score.
    main_metric: str = "exact_match"
    # Splits evaluation instances are drawn from (HELM: valid and test).
    eval_splits: tuple[str, ...] = EVAL_SPLITS
    # Number of evaluation instances drawn; None means all of them.
    max_eval_instances: int | None = None
    # Seed of the evaluation-instance draw (HELM: numpy seed 0).
    eval_seed: int = 0
    # Context window in tokens, prompt plus max_tokens (HELM's neurips/local: 2048).
    context_window: int = 2048
    # Data files this run spec reads, as (path relative to the data root, sha256) pairs.
    data_files: tuple[tuple[str, str], ...] = ()
    # Perturbations (HELM data augmentation): each evaluation instance is sent as is and in every
    # perturbed version that differs from it; empty for none.
    perturbations: tuple[PerturbationSpec, ...] = ()

    @property
    def scenario_kwargs(self) -> dict[str, str]:
        return dict(self.scenario_args)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.perturbations:
            # Suites pinned before perturbations existed keep their content hash.
            del data["perturbations"]
        return data
