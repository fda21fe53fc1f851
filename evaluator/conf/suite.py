"""HELM conf files as suites: each run entry becomes run specs, as `helm-run` would build them.

`suite_from_conf(text, name=...)` parses the whole file and builds every run spec before it
returns, so nothing is sent to a server until the conf validates as a whole. Supported scenario
names are those Podium implements (`CONF_SCENARIOS`); any other name fails with the entry, its
line and the supported names.

Arguments, as HELM reads them:
- `model=...` is ignored (Podium evaluates the submission's server, whatever the conf names);
- `max_eval_instances=N` caps the entry's evaluation instances (HELM's seeded draw);
- run expanders, applied in the order they appear: `data_augmentation=canonical` (HELM's
  canonical robustness and fairness perturbations) and `max_train_instances=N` or
  `max_train_instances=big_bench_few_shot_setting` (one run spec each for 0, 1, 2 and 3 shots);
- the rest are the scenario's own (`subject`, `task`, `subtask`, `method`), unknown ones refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from evaluator.conf.parse import ConfEntry, ConfError, Description, parse_conf, parse_description
from evaluator.perturbations import with_data_augmentation
from evaluator.perturbations.augmentation import DATA_AUGMENTATIONS
from evaluator.registry import Registry
from evaluator.specs import ADAPT_MULTIPLE_CHOICE_JOINT, RunSpec
from evaluator.suites.base import Suite
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import (
    bbq_run_spec,
    big_bench_run_spec,
    gsm_run_spec,
    mmlu_run_spec,
    truthful_qa_run_spec,
    with_max_eval_instances,
    with_max_train_instances,
)

#: HELM's name for the challenge's shot setting (its run expander's `values_dict`).
FEW_SHOT_SETTINGS: dict[str, tuple[int, ...]] = {"big_bench_few_shot_setting": (0, 1, 2, 3)}


class _Args:
    """A description's scenario arguments; each is taken once, leftovers are errors."""

    def __init__(self, entry: ConfEntry, desc: Description, where: str) -> None:
        self.entry, self.desc, self.where = entry, desc, where
        self.left = dict(desc.args)

    def take(self, key: str, default: str | None = None) -> str:
        value = self.left.pop(key, default)
        if value is None:
            raise ConfError(f"{self.where}: {self.desc.name} needs the argument {key}=...")
        return value

    def method(self) -> None:
        method = self.take("method", ADAPT_MULTIPLE_CHOICE_JOINT)
        if method != ADAPT_MULTIPLE_CHOICE_JOINT:
            raise ConfError(
                f"{self.where}: method={method} is not supported for {self.desc.name}; "
                f"Podium runs it with method={ADAPT_MULTIPLE_CHOICE_JOINT}, as the challenge did"
            )

    def done(self, accepted: str) -> None:
        if self.left:
            raise ConfError(
                f"{self.where}: unknown argument(s) {', '.join(sorted(self.left))} for "
                f"{self.desc.name}; it accepts {accepted}"
            )


_Builder = Callable[[_Args], RunSpec]
CONF_SCENARIOS: Registry[_Builder] = Registry("conf scenario")


@CONF_SCENARIOS.register("mmlu")
def _mmlu(args: _Args) -> RunSpec:
    subject = args.take("subject")
    args.method()
    args.done("subject, method")
    try:
        return mmlu_run_spec(subject, DATA_PINS, max_eval_instances=None)
    except KeyError:
        raise ConfError(f"{args.where}: MMLU has no subject {subject!r}") from None


@CONF_SCENARIOS.register("truthful_qa")
def _truthful_qa(args: _Args) -> RunSpec:
    task = args.take("task")
    if task != "mc_single":
        raise ConfError(f"{args.where}: TruthfulQA task {task!r} is not supported; use mc_single")
    args.method()
    args.done("task, method")
    return truthful_qa_run_spec(DATA_PINS, max_eval_instances=None)


@CONF_SCENARIOS.register("gsm")
def _gsm(args: _Args) -> RunSpec:
    args.done("no scenario arguments")
    return gsm_run_spec(DATA_PINS, max_eval_instances=None)


@CONF_SCENARIOS.register("bbq")
def _bbq(args: _Args) -> RunSpec:
    subject = args.take("subject", "all")
    args.method()
    args.done("subject, method")
    try:
        return bbq_run_spec(DATA_PINS, subject=subject, max_eval_instances=None)
    except (KeyError, ValueError) as exc:
        raise ConfError(f"{args.where}: {exc}") from None


@CONF_SCENARIOS.register("big_bench")
def _big_bench(args: _Args) -> RunSpec:
    task, subtask = args.take("task"), args.take("subtask", "")
    args.done("task, subtask")
    try:
        return big_bench_run_spec(task, subtask, DATA_PINS, max_eval_instances=None)
    except ValueError as exc:
        raise ConfError(f"{args.where}: {exc}") from None


@dataclass(frozen=True)
class ConfSuite:
    """A conf file's suite and what each entry became."""

    suite: Suite
    # Per entry: the run spec names it expanded to.
    entries: tuple[tuple[ConfEntry, tuple[str, ...]], ...]


def _entry_run_specs(entry: ConfEntry, source: str) -> list[RunSpec]:
    desc = parse_description(entry, source)
    where = f"{source}, line {entry.line} ({entry.description!r})"
    if desc.name not in CONF_SCENARIOS.names():
        raise ConfError(
            f"{where}: scenario {desc.name!r} is not supported; "
            f"supported: {', '.join(sorted(CONF_SCENARIOS.names()))}"
        )
    args = _Args(entry, desc, where)
    args.left.pop("model", None)
    expanders = [(k, args.left.pop(k)) for k, _ in desc.args if k in _EXPANDERS]
    specs = [CONF_SCENARIOS.get(desc.name)(args)]
    for key, value in expanders:
        specs = [expanded for spec in specs for expanded in _EXPANDERS[key](spec, value, where)]
    return specs


def _augment(spec: RunSpec, value: str, where: str) -> list[RunSpec]:
    if value not in DATA_AUGMENTATIONS:
        raise ConfError(
            f"{where}: data_augmentation={value} is not supported; "
            f"supported: {', '.join(sorted(DATA_AUGMENTATIONS))}"
        )
    return [with_data_augmentation(spec, value)]


def _shots(spec: RunSpec, value: str, where: str) -> list[RunSpec]:
    if value in FEW_SHOT_SETTINGS:
        counts = FEW_SHOT_SETTINGS[value]
    elif value.isdigit():
        counts = (int(value),)
    else:
        raise ConfError(
            f"{where}: max_train_instances={value} is neither a number nor one of "
            f"{', '.join(FEW_SHOT_SETTINGS)}"
        )
    return [with_max_train_instances(spec, n) for n in counts]


def _max_eval(spec: RunSpec, value: str, where: str) -> list[RunSpec]:
    if not value.isdigit() or int(value) < 1:
        raise ConfError(f"{where}: max_eval_instances must be a positive whole number")
    return [with_max_eval_instances(spec, int(value))]


#: HELM's run expanders Podium implements, applied in the order the description names them; each
#: adds `,key=value` to the run spec's name as HELM does (`model=` is the one left out).
_EXPANDERS: dict[str, Callable[[RunSpec, str, str], list[RunSpec]]] = {
    "data_augmentation": _augment,
    "max_train_instances": _shots,
    "max_eval_instances": _max_eval,
}


def suite_from_conf(data: bytes, *, name: str, source: str = "conf") -> ConfSuite:
    """Build the suite of a HELM conf file's bytes; ConfError on any problem, before any I/O."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfError(f"{source}: not UTF-8 text ({exc})") from None
    entries = parse_conf(text, source)
    built = [(entry, _entry_run_specs(entry, source)) for entry in entries]
    specs = [spec for _, entry_specs in built for spec in entry_specs]
    seen: dict[str, int] = {}
    for entry, entry_specs in built:
        for spec in entry_specs:
            if spec.name in seen:
                raise ConfError(
                    f"{source}, line {entry.line}: run spec {spec.name} is already built by the "
                    f"entry on line {seen[spec.name]}"
                )
            seen[spec.name] = entry.line
    budget = sum(spec.max_eval_instances or 0 for _, s in built for spec in s[:1])
    suite = Suite(
        name=name,
        description=(
            f"HELM conf {source}: {len(entries)} entries, {len(specs)} run specs, "
            f"{budget} evaluation instances"
        ),
        run_specs=tuple(specs),
        source_sha256=hashlib.sha256(data).hexdigest(),
    )
    return ConfSuite(suite=suite, entries=tuple((e, tuple(s.name for s in ss)) for e, ss in built))
