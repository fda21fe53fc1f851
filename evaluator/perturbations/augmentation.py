"""HELM's `data_augmentation=<name>` run expander (run_expander.py): named perturbation lists, and
the run spec change that applies one.

`canonical` is what HELM's classic scenarios (MMLU, TruthfulQA, ...) run with: the robustness
perturbation `mild_mix` plus the fairness perturbations dialect (SAE -> AAVE), gender pronouns
(male -> female) and first names (white American -> Black American, gender kept), all at
probability 1. HELM's expander also fixes how they are applied, which `augment` implements: eval
instances only, originals included, unchanged copies skipped, one seed.
"""

from __future__ import annotations

from dataclasses import replace

from evaluator.perturbations.base import perturbation_files
from evaluator.perturbations.fairness import SAE_TO_AAVE_FILE
from evaluator.perturbations.robustness import MISSPELLINGS_FILE
from evaluator.specs import PerturbationSpec, RunSpec

# sha256 of the perturbation resources, copied from the data set's MANIFEST.json.
AUGMENTATION_PINS: dict[str, str] = {
    MISSPELLINGS_FILE: "2f8e118895e52426bacd0cd32dfd0c14708e845c910d129f2d03571fe9f75c8b",
    SAE_TO_AAVE_FILE: "15f7e9933acd7e326ecf9c3127c576c2c0710edac23a78e961feda31c5d384cd",
}


def mild_mix() -> PerturbationSpec:
    return PerturbationSpec("mild_mix")


def dialect(prob: float, source_class: str, target_class: str) -> PerturbationSpec:
    return PerturbationSpec(
        "dialect",
        (("prob", prob), ("source_class", source_class), ("target_class", target_class)),
    )


def gender(mode: str, prob: float, source_class: str, target_class: str) -> PerturbationSpec:
    return PerturbationSpec(
        "gender",
        (
            ("mode", mode),
            ("prob", prob),
            ("source_class", source_class),
            ("target_class", target_class),
        ),
    )


def person_name(
    prob: float,
    source_class: str,
    target_class: str,
    person_name_type: str = "first_name",
    preserve_gender: bool = True,
) -> PerturbationSpec:
    """Classes as HELM's description writes them, e.g. "race=white_american"."""
    return PerturbationSpec(
        "person_name",
        (
            ("person_name_type", person_name_type),
            ("preserve_gender", preserve_gender),
            ("prob", prob),
            ("source_class", source_class),
            ("target_class", target_class),
        ),
    )


# HELM's ROBUSTNESS_PERTURBATION_SPECS and FAIRNESS_PERTURBATION_SPECS.
ROBUSTNESS_PERTURBATIONS: tuple[PerturbationSpec, ...] = (mild_mix(),)
FAIRNESS_PERTURBATIONS: tuple[PerturbationSpec, ...] = (
    dialect(prob=1.0, source_class="SAE", target_class="AAVE"),
    gender(mode="pronouns", prob=1.0, source_class="male", target_class="female"),
    person_name(
        prob=1.0,
        source_class="race=white_american",
        target_class="race=black_american",
        person_name_type="first_name",
        preserve_gender=True,
    ),
)

# HELM's PERTURBATION_SPECS_DICT entries that Podium implements (name -> perturbations).
DATA_AUGMENTATIONS: dict[str, tuple[PerturbationSpec, ...]] = {
    "robustness": ROBUSTNESS_PERTURBATIONS,
    "fairness": FAIRNESS_PERTURBATIONS,
    "canonical": ROBUSTNESS_PERTURBATIONS + FAIRNESS_PERTURBATIONS,
}


def canonical_perturbations() -> tuple[PerturbationSpec, ...]:
    """HELM's `data_augmentation=canonical`."""
    return DATA_AUGMENTATIONS["canonical"]


def with_data_augmentation(spec: RunSpec, augmentation: str = "canonical") -> RunSpec:
    """`spec` with HELM's `data_augmentation=<augmentation>`: its name gets HELM's suffix, its
    perturbations are set, and the resources they read are pinned with the data files."""
    if augmentation not in DATA_AUGMENTATIONS:
        raise ValueError(
            f"unknown data augmentation {augmentation!r}; known: {sorted(DATA_AUGMENTATIONS)}"
        )
    if spec.perturbations:
        raise ValueError(f"{spec.name} already has perturbations")
    perturbations = DATA_AUGMENTATIONS[augmentation]
    pinned = dict(spec.data_files)
    added = tuple(
        (path, AUGMENTATION_PINS[path])
        for path in perturbation_files(perturbations)
        if path not in pinned
    )
    return replace(
        spec,
        name=f"{spec.name},data_augmentation={augmentation}",
        perturbations=perturbations,
        data_files=spec.data_files + added,
    )
