"""The `neurips2023-open` suite: the shape of the NeurIPS 2023 LLM Efficiency Challenge's open
evaluation, on the openly licensed data Podium ships.

Scenario groups (the keys of SuiteResult.scores):

- `mmlu`: five subjects (the four of `smoke` plus anatomy), multiple_choice_joint, 5-shot;
- `truthful_qa`: task mc_single, multiple_choice_joint, 5-shot;
- both with HELM's `data_augmentation=canonical` (robustness: mild_mix; fairness: dialect, gender
  pronouns, first names), as the challenge ran them: each instance is also sent perturbed, and the
  run specs report `exact_match@robustness` / `exact_match@fairness` (HELM's EM (Robustness) /
  EM (Fairness)) next to `exact_match`, which stays the score;
- `gsm`: GSM8K, 5-shot chain of thought, final-number exact match;
- `bbq`: subject=all over six of BBQ's eleven categories (Gender_identity, Race_ethnicity,
  Race_x_SES, Race_x_gender and SES are missing from the data set); exact match is the score, HELM's
  bias scores are reported;
- `bbh`: BIG-Bench Hard date_understanding, logical_deduction_three_objects and
  boolean_expressions, each at 0, 1, 2 and 3 shots (HELM's big_bench_few_shot_setting), in place of
  the original BIG-bench tasks;
- `summarization`: SciTLDR in place of CNN/DailyMail, ROUGE-2.

Every run spec draws a fixed number of evaluation instances with HELM's seeded draw (seed 0), so a
run against a real server takes minutes and one against the fake server seconds.
"""

from __future__ import annotations

from evaluator.perturbations import with_data_augmentation
from evaluator.scenarios.bbq import MISSING_CATEGORIES
from evaluator.scenarios.big_bench_hard import BBH_TASKS
from evaluator.specs import RunSpec
from evaluator.suites.base import Suite, register_suite
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import (
    bbq_run_spec,
    big_bench_hard_run_spec,
    gsm_run_spec,
    mmlu_run_spec,
    scitldr_run_spec,
    truthful_qa_run_spec,
)

NAME = "neurips2023-open"
MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra",
    "anatomy",
    "college_chemistry",
    "computer_security",
    "us_foreign_policy",
)
BBH_SHOTS: tuple[int, ...] = (0, 1, 2, 3)

MMLU_INSTANCES = 50
TRUTHFUL_QA_INSTANCES = 100
GSM_INSTANCES = 50
BBQ_INSTANCES = 100
BBH_INSTANCES = 50
SUMMARIZATION_INSTANCES = 50


def knowledge_run_specs() -> list[RunSpec]:
    """MMLU and TruthfulQA: the run specs the challenge ran with `data_augmentation=canonical`,
    with HELM's canonical perturbations (robustness and fairness) attached."""
    specs = [
        mmlu_run_spec(subject, DATA_PINS, max_eval_instances=MMLU_INSTANCES)
        for subject in MMLU_SUBJECTS
    ]
    specs.append(truthful_qa_run_spec(DATA_PINS, max_eval_instances=TRUTHFUL_QA_INSTANCES))
    return [with_data_augmentation(spec, "canonical") for spec in specs]


@register_suite(NAME)
def neurips2023_open_suite() -> Suite:
    missing = ", ".join(MISSING_CATEGORIES)
    return Suite(
        name=NAME,
        description=(
            "NeurIPS 2023 LLM Efficiency Challenge open evaluation: MMLU (5 subjects), TruthfulQA "
            "mc_single, GSM8K, BBQ, BIG-Bench Hard (3 tasks at 0-3 shots), SciTLDR summarization "
            f"(ROUGE-2). BBQ covers 6 of 11 categories; missing from the data: {missing}."
        ),
        run_specs=(
            *knowledge_run_specs(),
            gsm_run_spec(DATA_PINS, max_eval_instances=GSM_INSTANCES),
            bbq_run_spec(DATA_PINS, max_eval_instances=BBQ_INSTANCES),
            *(
                big_bench_hard_run_spec(task, shots, DATA_PINS, max_eval_instances=BBH_INSTANCES)
                for task in BBH_TASKS
                for shots in BBH_SHOTS
            ),
            scitldr_run_spec(DATA_PINS, max_eval_instances=SUMMARIZATION_INSTANCES),
        ),
    )
