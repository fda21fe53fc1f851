"""Perturbation interface, registry and data augmentation, after HELM's `perturbation.py` and
`data_augmenter.py`.

A perturbation turns an evaluation instance into a perturbed copy with the same id. Randomness
comes from a `random.Random` seeded, as in HELM, with the instance id (`"id123"`), or with
`str(seed) + id` for the extra seeds HELM can ask for, so a perturbed text depends only on the
instance, never on the order in which instances are processed. Python's `Random` seeded with a
string is stable across versions and platforms, so the same instance and resources give the same
text as HELM.

`augment` is HELM's `DataAugmenter.generate` with the settings its `data_augmentation` run expander
always uses: eval instances only (in-context examples are never perturbed), one seed, and a
perturbed copy identical to its original (input and references) is dropped.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from random import Random
from typing import Any, ClassVar

from evaluator.core import Instance
from evaluator.data import DataSource
from evaluator.registry import Registry
from evaluator.specs import PerturbationSpec

ROBUSTNESS = "robustness"
FAIRNESS = "fairness"
CATEGORIES: tuple[str, ...] = (ROBUSTNESS, FAIRNESS)


@dataclass(frozen=True)
class PerturbationDescription:
    """What made a perturbed instance (HELM's PerturbationDescription, as scoring needs it)."""

    # Registry name, e.g. "mild_mix" (HELM's `name`).
    name: str
    # "robustness" or "fairness": the worst-case metric the perturbed instance counts toward
    # (HELM's `robustness` / `fairness` flags; each of HELM's perturbations sets exactly one).
    category: str
    # Extra seed prepended to the instance id; None for HELM's default single seed.
    seed: int | None = None


@dataclass(frozen=True)
class PerturbedInstance:
    """A perturbed copy of an evaluation instance."""

    # The copy: same id and split as its original, perturbed input (and references).
    instance: Instance
    # The perturbation that made it.
    perturbation: PerturbationDescription


def match_case(source_word: str, target_word: str) -> str:
    """`target_word` in the case pattern of `source_word` (HELM's `match_case`, general.py).

    As in HELM, a source with a non-letter (an apostrophe, a space) is neither "all lower" nor "all
    upper", so only a leading capital carries over.
    """
    if all(letter.islower() for letter in source_word):
        return target_word.lower()
    if all(letter.isupper() for letter in source_word):
        return target_word.upper()
    if source_word and source_word[0].isupper():
        return target_word.capitalize()
    return target_word


class Resources:
    """The pinned data files perturbations read (word lists), verified by sha256."""

    def __init__(self, data: DataSource, pins: Mapping[str, str]) -> None:
        self.data = data
        self.pins = pins

    def read_text(self, path: str) -> str:
        if path not in self.pins:
            raise ValueError(f"perturbation resource without a sha256 pin: {path}")
        return self.data.read_bytes(path, self.pins[path]).decode("utf-8")

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_text(path))


class Perturbation(ABC):
    """One of HELM's perturbations, constructed with `cls(resources, **args)`."""

    # Registry name (HELM's `name`).
    name: ClassVar[str]
    # ROBUSTNESS or FAIRNESS.
    category: ClassVar[str]
    # Whether references (options, gold answers) are perturbed too (HELM's flag of that name).
    should_perturb_references: ClassVar[bool] = False
    # Bump when the output for the same instance, arguments and resources changes.
    version: ClassVar[str] = "1"

    @classmethod
    def files(cls, args: Mapping[str, Any]) -> tuple[str, ...]:
        """Data files (relative to the data root) this perturbation reads with `args`."""
        return ()

    @classmethod
    def differences_from_helm(cls, args: Mapping[str, Any]) -> str | None:
        """Why output may differ from HELM's given the same instance, or None if it may not."""
        return None

    @classmethod
    def code_pin(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """What of this perturbation's code decides its output (part of a suite's content hash)."""
        return {"name": cls.name, "version": cls.version, "augment": AUGMENT_VERSION}

    @property
    def description(self) -> PerturbationDescription:
        return PerturbationDescription(name=self.name, category=self.category)

    @staticmethod
    def get_rng(instance: Instance, seed: int | None = None) -> Random:
        """HELM's `Perturbation.get_rng`: seeded by the instance id (and the extra seed)."""
        if not instance.id:
            raise ValueError("perturbing an instance needs its id (HELM seeds with it)")
        return Random(instance.id if seed is None else str(seed) + instance.id)

    @abstractmethod
    def apply(self, instance: Instance, seed: int | None = None) -> Instance:
        """The perturbed copy of `instance` (same id)."""


class TextPerturbation(Perturbation):
    """A perturbation defined on text (HELM's `TextPerturbation`)."""

    def apply(self, instance: Instance, seed: int | None = None) -> Instance:
        rng = self.get_rng(instance, seed)
        references = instance.references
        # HELM perturbs the references before the input, from the same generator: the order
        # decides which random draws each text gets.
        if self.should_perturb_references:
            references = tuple(
                replace(reference, output=self.perturb(reference.output, rng))
                for reference in references
            )
        return replace(instance, input=self.perturb(instance.input, rng), references=references)

    @abstractmethod
    def perturb(self, text: str, rng: Random) -> str:
        """The perturbed `text`."""


PerturbationFactory = type[Perturbation]

PERTURBATIONS: Registry[PerturbationFactory] = Registry("perturbation")
#: Revision of `augment`'s rule for which copies are sent; 2: HELM 0.5.16's (input unchanged).
AUGMENT_VERSION = "2"


def register_perturbation(cls: PerturbationFactory) -> PerturbationFactory:
    """Class decorator: registers `cls` under its `name`."""
    return PERTURBATIONS.add(cls.name, cls)


def perturbation_files(specs: Sequence[PerturbationSpec]) -> tuple[str, ...]:
    """Every data file `specs` read, in first-use order."""
    files: dict[str, None] = {}
    for spec in specs:
        files.update(dict.fromkeys(PERTURBATIONS.get(spec.name).files(spec.kwargs)))
    return tuple(files)


def perturbation_code_pins(specs: Sequence[PerturbationSpec]) -> list[dict[str, Any]]:
    """What of the perturbations' code decides their output, for a suite's content hash."""
    return [PERTURBATIONS.get(spec.name).code_pin(spec.kwargs) for spec in specs]


def create_perturbation(spec: PerturbationSpec, resources: Resources) -> Perturbation:
    # Each class takes the resources, then HELM's arguments by name.
    factory: Callable[..., Perturbation] = PERTURBATIONS.get(spec.name)
    return factory(resources, **spec.kwargs)


def describe_perturbation(spec: PerturbationSpec, pins: Mapping[str, str]) -> dict[str, Any]:
    """Plain-data description of `spec` for results: arguments, resources and their sha256, and
    how its output can differ from HELM's."""
    cls = PERTURBATIONS.get(spec.name)
    args = spec.kwargs
    return {
        "name": cls.name,
        "category": cls.category,
        "args": dict(args),
        "perturbs_references": cls.should_perturb_references,
        "files": {path: pins.get(path) for path in cls.files(args)},
        "differs_from_helm": cls.differences_from_helm(args),
    }


def perturbation_categories(specs: Sequence[PerturbationSpec]) -> tuple[str, ...]:
    """The categories (ROBUSTNESS, FAIRNESS order) that `specs` cover."""
    present = {PERTURBATIONS.get(spec.name).category for spec in specs}
    return tuple(category for category in CATEGORIES if category in present)


def augment(
    instances: Sequence[Instance], perturbations: Sequence[Perturbation]
) -> list[PerturbedInstance]:
    """The perturbed copies of `instances`, per instance in perturbation order (HELM's
    `DataAugmenter.generate` with skip_unchanged=True, seeds_per_instance=1; originals are not
    repeated here). As in HELM 0.5.16, a copy is skipped when its input is unchanged, even if a
    perturbation changed its references (the answer options): HELM never sends those."""
    perturbed: list[PerturbedInstance] = []
    for instance in instances:
        for perturbation in perturbations:
            copy = perturbation.apply(instance)
            if copy.input == instance.input:
                continue
            perturbed.append(PerturbedInstance(copy, perturbation.description))
    return perturbed
