"""From a suite to the requests it will send: load data, select instances, build prompts.

Kept apart from the runner so prompts can be produced and checked without a server (golden tests,
dry runs) and so the runner only deals with sending and scoring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from evaluator.adapters import ADAPTERS, Adapter, PreparedRequest, TokenCounter, fit_prompt
from evaluator.core import TRAIN_SPLIT, Instance
from evaluator.data import DataSource
from evaluator.perturbations import (
    PERTURBATIONS,
    Perturbation,
    PerturbationDescription,
    PerturbedInstance,
    Resources,
    augment,
    create_perturbation,
    perturbation_files,
)
from evaluator.scenarios import SCENARIOS, Scenario
from evaluator.selection import downsample_eval_instances, sample_examples
from evaluator.specs import PerturbationSpec, RunSpec


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


class PlanningMemo:
    """Scenario instances and perturbations shared by the run specs of one suite while it is
    planned, so that each data file is parsed once however many run specs read it.

    A BIG-bench task is run with four shot counts, an MMLU subject with and without augmentation:
    without the memo each of those run specs parses the same file again (vitaminc's 23 MB four
    times). Entries are keyed by what decides their content: the scenario (or perturbation) class,
    its arguments and the sha256 pins of the files it reads, so two run specs share an entry only
    when they would load identical instances. Instances are frozen and perturbations keep no
    state between instances (their randomness is seeded by each instance's id), so sharing them
    cannot change a prompt.

    Given the run specs up front, an entry is dropped once the last run spec that reads it is
    planned: a plan keeps only the instances it drew, so memory stays at one suite's plans plus
    the files still to be used, not every parsed data set.
    """

    def __init__(self, run_specs: Iterable[RunSpec] = ()) -> None:
        self._instances: dict[Hashable, tuple[Instance, ...]] = {}
        self._perturbations: dict[Hashable, Perturbation] = {}
        # Run specs still to be planned per scenario key; keys never counted are kept to the end.
        self._remaining: Counter[Hashable] = Counter()
        # Scenario loads done (data files parsed), for tests and profiles.
        self.loads = 0
        for spec in run_specs:
            self._remaining[_scenario_key(spec, _scenario(spec), dict(spec.data_files))] += 1

    def instances(
        self, spec: RunSpec, scenario: Scenario, data: DataSource, pins: Mapping[str, str]
    ) -> tuple[Instance, ...]:
        """All instances of `spec`'s scenario, loaded on first use."""
        key = _scenario_key(spec, scenario, pins)
        instances = self._instances.get(key)
        if instances is None:
            instances = tuple(scenario.load(data, pins))
            self.loads += 1
            self._instances[key] = instances
        if key in self._remaining:
            self._remaining[key] -= 1
            if self._remaining[key] <= 0:
                del self._remaining[key]
                del self._instances[key]
        return instances

    @property
    def held(self) -> int:
        """Scenarios whose instances are held now."""
        return len(self._instances)

    def perturbation(self, spec: PerturbationSpec, resources: Resources) -> Perturbation:
        """The perturbation `spec` describes, built on first use (word lists read, patterns
        compiled once per suite instead of once per run spec)."""
        files = PERTURBATIONS.get(spec.name).files(spec.kwargs)
        key = (spec.name, spec.args, tuple((path, resources.pins.get(path)) for path in files))
        built = self._perturbations.get(key)
        if built is None:
            built = self._perturbations[key] = create_perturbation(spec, resources)
        return built


def _scenario(spec: RunSpec) -> Scenario:
    return SCENARIOS.get(spec.scenario)(**spec.scenario_kwargs)


def _scenario_key(spec: RunSpec, scenario: Scenario, pins: Mapping[str, str]) -> Hashable:
    cls = type(scenario)
    files = tuple((path, pins.get(path)) for path in scenario.files())
    return (cls.__module__, cls.__qualname__, scenario.version, spec.scenario_args, files)


def check_pins(spec: RunSpec) -> None:
    """ValueError when `spec` reads a data file its suite does not pin (a suite definition bug;
    checked for every run spec before anything is sent)."""
    pins = dict(spec.data_files)
    needed = [*_scenario(spec).files(), *perturbation_files(spec.perturbations)]
    unpinned = [path for path in needed if path not in pins]
    if unpinned:
        raise ValueError(f"{spec.name}: data files without a sha256 pin: {unpinned}")


def plan_run_spec(
    spec: RunSpec,
    data: DataSource,
    max_instances: int | None = None,
    memo: PlanningMemo | None = None,
) -> RunPlan:
    check_pins(spec)
    scenario = _scenario(spec)
    pins = dict(spec.data_files)
    memo = memo if memo is not None else PlanningMemo()
    instances = memo.instances(spec, scenario, data, pins)
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
        perturbations = [memo.perturbation(p, resources) for p in spec.perturbations]
        perturbed = augment(selected, perturbations)
    return RunPlan(
        spec=spec,
        adapter=ADAPTERS.get(adapter_spec.method)(adapter_spec),
        train_examples=tuple(examples),
        eval_instances=tuple(selected),
        perturbed=tuple(perturbed),
    )


def iter_plans(
    run_specs: Sequence[RunSpec], data: DataSource, max_instances: int | None = None
) -> Iterator[RunPlan]:
    """The plans of `run_specs`, in order, made one at a time (the runner sends the requests of
    the first ones while the rest are planned); every run spec's pins are checked first."""
    for spec in run_specs:
        check_pins(spec)
    memo = PlanningMemo(run_specs)
    for spec in run_specs:
        yield plan_run_spec(spec, data, max_instances, memo)


def plan_suite(
    run_specs: Sequence[RunSpec], data: DataSource, max_instances: int | None = None
) -> list[RunPlan]:
    return list(iter_plans(run_specs, data, max_instances))


async def prepare_request(
    plan: RunPlan, instance: Instance, counter: TokenCounter
) -> PreparedRequest:
    """The request for `instance`, its prompt fitted into the run spec's context window."""
    prompt = plan.adapter.build_prompt(plan.train_examples, instance)
    prompt = await fit_prompt(
        prompt, counter, plan.spec.context_window, plan.spec.adapter.max_tokens
    )
    return plan.adapter.make_request(instance, prompt)
