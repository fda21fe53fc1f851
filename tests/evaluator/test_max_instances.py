"""`--max-instances N` is HELM's `helm-run -m N`: the same seeded draw as a cap of N."""

from __future__ import annotations

from dataclasses import replace

from evaluator import DataSource
from evaluator.core import Instance
from evaluator.planning import plan_run_spec
from evaluator.suites import DATA_PINS, mmlu_run_spec


def _ids(instances: tuple[Instance, ...]) -> list[str]:
    return [instance.id for instance in instances]


def test_uncapped_spec_draws_as_helm_does_with_m(data: DataSource) -> None:
    uncapped = mmlu_run_spec("anatomy", DATA_PINS, max_eval_instances=None)
    with_m = plan_run_spec(uncapped, data, max_instances=7)
    as_capped = plan_run_spec(replace(uncapped, max_eval_instances=7), data)
    assert _ids(with_m.eval_instances) == _ids(as_capped.eval_instances)
    # HELM's draw is no prefix of the full list: the seeded choice picks from all of them.
    everything = plan_run_spec(uncapped, data)
    assert _ids(with_m.eval_instances) != _ids(everything.eval_instances)[:7]


def test_a_spec_with_its_own_cap_is_lowered_to_n_with_the_same_draw(data: DataSource) -> None:
    capped = mmlu_run_spec("anatomy", DATA_PINS, max_eval_instances=20)
    lowered = plan_run_spec(capped, data, max_instances=5)
    assert _ids(lowered.eval_instances) == _ids(
        plan_run_spec(replace(capped, max_eval_instances=5), data).eval_instances
    )
    assert len(plan_run_spec(capped, data, max_instances=50).eval_instances) == 20
