"""Perturbations (HELM's data augmentation). Importing this package registers the built-ins.

    spec = with_data_augmentation(mmlu_run_spec("anatomy", DATA_PINS, max_eval_instances=100))

makes the planner send every evaluation instance as is and in each perturbed version that differs
from it, and the results report `exact_match` (originals), `exact_match@robustness` and
`exact_match@fairness` (HELM's "EM (Robustness)" / "EM (Fairness)"; see `worst_case`).
"""

from evaluator.perturbations import fairness as fairness
from evaluator.perturbations import person_name as person_name
from evaluator.perturbations import robustness as robustness
from evaluator.perturbations.augmentation import (
    AUGMENTATION_PINS,
    DATA_AUGMENTATIONS,
    canonical_perturbations,
    with_data_augmentation,
)
from evaluator.perturbations.base import (
    CATEGORIES,
    FAIRNESS,
    PERTURBATIONS,
    ROBUSTNESS,
    Perturbation,
    PerturbationDescription,
    PerturbedInstance,
    Resources,
    TextPerturbation,
    augment,
    create_perturbation,
    describe_perturbation,
    match_case,
    perturbation_categories,
    perturbation_code_pins,
    perturbation_files,
    register_perturbation,
)
from evaluator.perturbations.worst_case import ScoredItem, worst_case_metrics, worst_case_name

__all__ = [
    "AUGMENTATION_PINS",
    "CATEGORIES",
    "DATA_AUGMENTATIONS",
    "FAIRNESS",
    "PERTURBATIONS",
    "ROBUSTNESS",
    "Perturbation",
    "PerturbationDescription",
    "PerturbedInstance",
    "Resources",
    "ScoredItem",
    "TextPerturbation",
    "augment",
    "canonical_perturbations",
    "create_perturbation",
    "describe_perturbation",
    "match_case",
    "perturbation_categories",
    "perturbation_code_pins",
    "perturbation_files",
    "register_perturbation",
    "with_data_augmentation",
    "worst_case_metrics",
    "worst_case_name",
]
