"""`neurips2023-final-open`: the final stage's open evaluation of the 2023 challenge, verbatim.

The organizers ran `run_specs_open_2000_budget.conf` (their HELM fork, `configs/`): 87 run
entries with a budget of 2,000 evaluation instances, each entry with its own cap:

- BIG-bench: 29 entries over 18 tasks, each expanded by `big_bench_few_shot_setting` into 0, 1,
  2 and 3 in-context examples (116 run specs);
- MMLU: 55 subjects, multiple_choice_joint, with `data_augmentation=canonical`;
- TruthfulQA mc_single (canonical), GSM8K and BBQ subject=all, 61 instances each.

Written here in code, entry by entry in the file's order, built with the same run-spec functions
and expanders as `podium eval --conf`, so the suite needs no conf file at run time; a test parses
the organizers' file and checks that both give exactly the same run specs. BBQ covers the 6 of
its 11 categories that the data set holds, as in `neurips2023-open`.
"""

from __future__ import annotations

from evaluator.perturbations import with_data_augmentation
from evaluator.specs import RunSpec
from evaluator.suites.base import Suite, register_suite
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

NAME = "neurips2023-final-open"
#: HELM's big_bench_few_shot_setting.
BIG_BENCH_SHOTS: tuple[int, ...] = (0, 1, 2, 3)
#: (task, subtask, max_eval_instances), in the conf's order.
BIG_BENCH_ENTRIES: tuple[tuple[str, str, int], ...] = (
    ("auto_debugging", "", 61),
    ("code_line_description", "", 61),
    ("conceptual_combinations", "contradictions", 12),
    ("conceptual_combinations", "emergent_properties", 12),
    ("conceptual_combinations", "fanciful_fictional_combinations", 12),
    ("conceptual_combinations", "homonyms", 12),
    ("conceptual_combinations", "invented_words", 12),
    ("emoji_movie", "", 61),
    ("formal_fallacies_syllogisms_negation", "", 61),
    ("known_unknowns", "", 61),
    ("linguistics_puzzles", "", 61),
    ("logic_grid_puzzle", "", 61),
    ("logical_deduction", "three_objects", 20),
    ("logical_deduction", "five_objects", 20),
    ("logical_deduction", "seven_objects", 21),
    ("novel_concepts", "", 61),
    ("operators", "", 61),
    ("play_dialog_same_or_different", "", 61),
    ("repeat_copy_logic", "", 61),
    ("strange_stories", "boolean", 30),
    ("strange_stories", "multiple_choice", 31),
    ("strategyqa", "", 61),
    ("symbol_interpretation", "adversarial", 12),
    ("symbol_interpretation", "emoji_agnostic", 12),
    ("symbol_interpretation", "name_agnostic", 12),
    ("symbol_interpretation", "plain", 12),
    ("symbol_interpretation", "tricky", 12),
    ("vitaminc_fact_verification", "", 61),
    ("winowhy", "", 61),
)
#: (subject, max_eval_instances), in the conf's order.
MMLU_ENTRIES: tuple[tuple[str, int], ...] = (
    ("anatomy", 15),
    ("college_medicine", 15),
    ("college_biology", 15),
    ("high_school_biology", 15),
    ("college_computer_science", 12),
    ("high_school_computer_science", 12),
    ("computer_security", 12),
    ("electrical_engineering", 12),
    ("machine_learning", 12),
    ("high_school_mathematics", 15),
    ("college_mathematics", 15),
    ("abstract_algebra", 15),
    ("high_school_statistics", 15),
    ("college_chemistry", 12),
    ("high_school_chemistry", 12),
    ("high_school_physics", 12),
    ("college_physics", 12),
    ("astronomy", 12),
    ("formal_logic", 12),
    ("logical_fallacies", 12),
    ("philosophy", 12),
    ("moral_disputes", 12),
    ("moral_scenarios", 12),
    ("professional_law", 20),
    ("international_law", 20),
    ("jurisprudence", 21),
    ("high_school_european_history", 12),
    ("high_school_us_history", 12),
    ("high_school_world_history", 12),
    ("prehistory", 12),
    ("world_religions", 12),
    ("business_ethics", 10),
    ("global_facts", 10),
    ("management", 10),
    ("marketing", 10),
    ("miscellaneous", 10),
    ("professional_accounting", 10),
    ("nutrition", 10),
    ("human_aging", 10),
    ("clinical_knowledge", 10),
    ("medical_genetics", 10),
    ("professional_medicine", 10),
    ("virology", 10),
    ("high_school_government_and_politics", 12),
    ("high_school_geography", 12),
    ("us_foreign_policy", 12),
    ("public_relations", 12),
    ("security_studies", 12),
    ("high_school_psychology", 15),
    ("human_sexuality", 15),
    ("professional_psychology", 15),
    ("sociology", 15),
    ("high_school_microeconomics", 20),
    ("econometrics", 20),
    ("high_school_macroeconomics", 20),
)
OTHER_INSTANCES = 61


def final_open_run_specs() -> list[RunSpec]:
    """The conf's run specs, named as HELM names them (its run expanders in the entries' order,
    `model=` left out)."""
    specs = [
        with_max_eval_instances(
            with_max_train_instances(
                big_bench_run_spec(task, subtask, DATA_PINS, max_eval_instances=None), shots
            ),
            n,
        )
        for task, subtask, n in BIG_BENCH_ENTRIES
        for shots in BIG_BENCH_SHOTS
    ]
    specs += [
        with_max_eval_instances(
            with_data_augmentation(mmlu_run_spec(subject, DATA_PINS, max_eval_instances=None)), n
        )
        for subject, n in MMLU_ENTRIES
    ]
    specs.append(
        with_max_eval_instances(
            with_data_augmentation(truthful_qa_run_spec(DATA_PINS, max_eval_instances=None)),
            OTHER_INSTANCES,
        )
    )
    specs.append(
        with_max_eval_instances(gsm_run_spec(DATA_PINS, max_eval_instances=None), OTHER_INSTANCES)
    )
    specs.append(
        with_max_eval_instances(
            bbq_run_spec(DATA_PINS, subject="all", max_eval_instances=None), OTHER_INSTANCES
        )
    )
    return specs


@register_suite(NAME)
def neurips2023_final_open_suite() -> Suite:
    return Suite(
        name=NAME,
        description=(
            "NeurIPS 2023 LLM Efficiency Challenge, final open evaluation, verbatim from the "
            "organizers' run_specs_open_2000_budget.conf: BIG-bench (18 tasks, 0-3 shots), MMLU "
            "(55 subjects, canonical augmentation), TruthfulQA, GSM8K, BBQ; 2,000 instances."
        ),
        run_specs=tuple(final_open_run_specs()),
    )
