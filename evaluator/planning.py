"""From a suite to the requests it will send: load data, select instances, build prompts.

Kept apart from the runner so prompts can be produced and checked without a server (golden tests,
dry runs) and so the runner only deals with sending and scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evaluator.adapters import ADAPTERS, Adapter, PreparedRequest, TokenCounter, fit_prompt
from evaluator.core import TRAIN_SPLIT, Instance
from evaluator.data import DataSource
from evaluator.perturbations import (
    PerturbationDescription,
    PerturbedInstance,
    Resources,
    augment,
    create_perturbation,
    perturbation_files,
)
from evaluator.scenarios import SCENARIOS
from evaluator.selection import downsample_eval_instances, sample_examples
from evaluator.specs import RunSpec


@dataclass(frozen=True)
class RunPlan:
    """A run spec with its data loaded and its instances chosen."""

    # The run spec.
    spec: RunSpec
    # Its adapter.
    adapter: Adapter
    # In-context examples shared by every evaluation instance (HELM: one train trial).
    train_examples: tuple[Instance, ...]
    # Evaluation instances, in HELM's selection order.
    eval_instances: tuple[Instance, ...]
    # Perturbed versions of the evaluation instances (the run spec's perturbations), per instance
    # in perturbation order; versions equal to their original are left out, as HELM does.
    perturbed: tuple[PerturbedInstance, ...] = ()

    def evaluation_items(self) -> list[tuple[Instance, PerturbationDescription | None]]:
        """Everything sent for this run spec, in HELM's order: each evaluation instance, then its
        perturbed versions (with the perturbation; None for the original)."""
        by_id: dict[str, list[PerturbedInstance]] = {}
        for copy in self.perturbed:
            by_id.setdefault(copy.instance.id, []).append(copy)
        items: list[tuple[Instance, PerturbationDescription | None]] = []
        for instance in self.eval_instances:
            items.append((instance, None))
            items.extend((c.instance, c.perturbation) for c in by_id.get(instance.id, ()))
        return items


def plan_run_spec(spec: RunSpec, data: DataSource, max_instances: int | None = None) -> RunPlan:
    scenario = SCENARIOS.get(spec.scenario)(**spec.scenario_kwargs)
    pins = dict(spec.data_files)
    needed = [*scenario.files(), *perturbation_files(spec.perturbations)]
    unpinned = [path for path in needed if path not in pins]
    if unpinned:
        raise ValueError(f"{spec.name}: data files without a sha256 pin: {unpinned}")
    instances = scenario.load(data, pins)
    train = [instance for instance in instances if instance.split == TRAIN_SPLIT]
    evals = [instance for instance in instances if instance.split in spec.eval_splits]
    # `max_instances` is HELM's `helm-run -m N`: a spec without a cap of its own draws N with
    # the seeded draw, exactly as HELM does. HELM leaves a spec's own cap alone; Podium lowers it
    # to N too (a quick check should be quick), drawing as a spec with that cap would.
    cap = spec.max_eval_instances
    if max_instances is not None:
        cap = max_instances if cap is None else min(cap, max_instances)
    selected = downsample_eval_instances(evals, cap, spec.eval_seed)
    adapter_spec = spec.adapter
    examples = sample_examples(
        train,
        adapter_spec.max_train_instances,
        adapter_spec.train_trial_seed,
        adapter_spec.sample_train,
    )
    # HELM perturbs after drawing the evaluation instances, and never the in-context examples.
    perturbed: list[PerturbedInstance] = []
    if spec.perturbations:
        resources = Resources(data, pins)
        perturbations = [create_perturbation(p, resources) for p in spec.perturbations]
        perturbed = augment(selected, perturbations)
    return RunPlan(
        spec=spec,
        adapter=ADAPTERS.get(adapter_spec.method)(adapter_spec),
        train_examples=tuple(examples),
        eval_instances=tuple(selected),
        perturbed=tuple(perturbed),
    )


def plan_suite(
    run_specs: Sequence[RunSpec], data: DataSource, max_instances: int | None = None
) -> list[RunPlan]:
    return [plan_run_spec(spec, data, max_instances) for spec in run_specs]


async def prepare_request(
    plan: RunPlan, instance: Instance, counter: TokenCounter
) -> PreparedRequest:
    """The request for `instance`, its prompt fitted into the run spec's context window."""
    prompt = plan.adapter.build_prompt(plan.train_examples, instance)
    prompt = await fit_prompt(
        prompt, counter, plan.spec.context_window, plan.spec.adapter.max_tokens
    )
    return plan.adapter.make_request(instance, prompt)
