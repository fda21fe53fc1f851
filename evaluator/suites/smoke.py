"""The `smoke` suite: a few minutes of MMLU that tells whether a server works and roughly how well.

Four subjects of different kinds (math, science, security, policy), ten evaluation instances each,
drawn as `helm-run --max-eval-instances 10` draws them, 5-shot as in HELM.
"""

from __future__ import annotations

from evaluator.suites.base import Suite, register_suite
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import mmlu_run_spec

SMOKE_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra",
    "college_chemistry",
    "computer_security",
    "us_foreign_policy",
)
SMOKE_INSTANCES_PER_SUBJECT = 10


@register_suite("smoke")
def smoke_suite() -> Suite:
    return Suite(
        name="smoke",
        description="MMLU 5-shot on 4 subjects, 10 instances each (HELM multiple_choice_joint)",
        run_specs=tuple(
            mmlu_run_spec(subject, DATA_PINS, max_eval_instances=SMOKE_INSTANCES_PER_SUBJECT)
            for subject in SMOKE_SUBJECTS
        ),
    )
