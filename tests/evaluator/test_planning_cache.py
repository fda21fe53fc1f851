"""Planning parses each data file once per suite, and the plans are those planned one by one.

The 2023 open conf runs every BIG-bench task at four shot counts: the memo in
`evaluator.planning` makes the four run specs share one parse. These tests plan real run specs
from the organizers' conf on the shared data and compare every plan (instances, ids,
references, in-context examples, perturbed copies) with the plan made without any sharing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path

import pytest

from evaluator import DataSource
from evaluator.conf import suite_from_conf
from evaluator.core import Instance, Reference
from evaluator.planning import PlanningMemo, iter_plans, plan_run_spec, plan_suite
from evaluator.scenarios.base import with_instance_ids
from evaluator.scenarios.big_bench import BigBenchScenario
from evaluator.scenarios.mmlu import MMLUScenario
from evaluator.selection import numpy_legacy_choice_indices
from evaluator.specs import RunSpec


@pytest.fixture(scope="module")
def conf_specs(scenario_root: Path) -> tuple[RunSpec, ...]:
    # The shared challenge files sit next to the scenario data.
    conf = scenario_root.parent / "challenge-2023" / "run_specs_open_2000_budget.conf"
    if not conf.is_file():
        pytest.skip(f"the organizers' conf is not at {conf}")
    return suite_from_conf(conf.read_bytes(), name="conf:open", source=conf.name).suite.run_specs


def _pick(specs: tuple[RunSpec, ...], *needles: str) -> list[RunSpec]:
    picked = [spec for spec in specs if any(needle in spec.name for needle in needles)]
    assert picked, needles
    return picked


def _count_loads(
    monkeypatch: pytest.MonkeyPatch, cls: type[BigBenchScenario] | type[MMLUScenario]
) -> Counter[str]:
    """Spy on `cls.load`: how often each configuration is loaded (parsed)."""
    loads: Counter[str] = Counter()
    original = cls.load

    def load(self: object, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        loads[repr(sorted(vars(self).items()))] += 1
        return original(self, data, pins)  # type: ignore[arg-type]

    monkeypatch.setattr(cls, "load", load)
    return loads


def test_four_shot_counts_of_a_big_bench_task_share_one_parse(
    conf_specs: tuple[RunSpec, ...], data: DataSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _pick(conf_specs, "task=auto_debugging", "task=logical_deduction")
    # auto_debugging, and logical_deduction's three subtasks, each at 0, 1, 2 and 3 shots.
    assert len(specs) == 16
    loads = _count_loads(monkeypatch, BigBenchScenario)
    plans = plan_suite(specs, data)
    assert len(plans) == 16
    assert sorted(loads.values()) == [1, 1, 1, 1], loads
    # Planned alone, each run spec parses its file again: that is what the memo saves.
    loads.clear()
    for spec in specs[:4]:
        plan_run_spec(spec, data)
    assert sum(loads.values()) == 4


def test_an_mmlu_subject_with_and_without_augmentation_shares_one_parse(
    conf_specs: tuple[RunSpec, ...], data: DataSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    (augmented,) = _pick(conf_specs, "subject=anatomy")
    assert augmented.perturbations, "the conf runs MMLU with canonical augmentation"
    plain = replace(augmented, name=augmented.name + ",plain", perturbations=())
    loads = _count_loads(monkeypatch, MMLUScenario)
    memo = PlanningMemo([augmented, plain])
    with_memo = [plan_run_spec(spec, data, memo=memo) for spec in (augmented, plain)]
    assert list(loads.values()) == [1]
    # Every file's entry is dropped once its last run spec is planned.
    assert memo.held == 0
    assert with_memo[0].perturbed and not with_memo[1].perturbed
    assert with_memo[0].eval_instances == with_memo[1].eval_instances


def test_plans_are_identical_with_and_without_the_memo(
    conf_specs: tuple[RunSpec, ...], data: DataSource
) -> None:
    # Every scenario kind of the conf, perturbed ones (MMLU, TruthfulQA) and several run specs
    # reading one file (BIG-bench shot counts) included.
    specs = _pick(
        conf_specs,
        "subject=anatomy",
        "subject=computer_security",
        "truthful_qa",
        "gsm",
        "bbq",
        "task=code_line_description",
        "task=strange_stories",
        "task=operators",
    )
    assert {spec.scenario for spec in specs} >= {"mmlu", "truthful_qa", "gsm", "bbq", "big_bench"}
    shared = list(iter_plans(specs, data))
    alone = [plan_run_spec(spec, data) for spec in specs]
    assert len(shared) == len(alone) == len(specs)
    for a, b in zip(shared, alone, strict=True):
        assert a.spec == b.spec
        assert a.train_examples == b.train_examples, a.spec.name
        assert a.eval_instances == b.eval_instances, a.spec.name
        assert a.perturbed == b.perturbed, a.spec.name
        assert a.evaluation_items() == b.evaluation_items(), a.spec.name
    # HELM ids on every instance sent, and the cap honoured.
    for plan in shared:
        assert all(instance.id.startswith("id") for instance, _ in plan.evaluation_items())
        cap = plan.spec.max_eval_instances
        assert cap is None or len(plan.eval_instances) <= cap


def test_max_instances_draws_the_same_with_the_memo(
    conf_specs: tuple[RunSpec, ...], data: DataSource
) -> None:
    specs = _pick(conf_specs, "task=auto_debugging", "subject=anatomy")
    shared = plan_suite(specs, data, max_instances=3)
    alone = [plan_run_spec(spec, data, max_instances=3) for spec in specs]
    assert [p.eval_instances for p in shared] == [p.eval_instances for p in alone]
    assert all(len(p.eval_instances) == 3 for p in shared)


def test_unpinned_file_fails_before_the_first_plan(
    conf_specs: tuple[RunSpec, ...], data: DataSource
) -> None:
    first, second = _pick(conf_specs, "subject=anatomy", "subject=virology")
    broken = replace(second, data_files=tuple(f for f in second.data_files if "test/" not in f[0]))
    plans = iter_plans([first, broken], data)
    with pytest.raises(ValueError, match="data files without a sha256 pin"):
        next(plans)


def test_with_instance_ids_copies_every_field() -> None:
    # It builds instances field by field (a dataclasses.replace per instance was 3 s of the
    # 2023 conf's planning): a new Instance field must be added there too.
    assert [f.name for f in fields(Instance)] == ["input", "references", "split", "id"]
    instances = [Instance("q", (Reference("a", ("correct",)),), "test"), Instance("r", (), "train")]
    assert with_instance_ids(instances) == [
        replace(instances[0], id="id0"),
        replace(instances[1], id="id1"),
    ]


def test_choice_indices_are_not_shared_mutably() -> None:
    first = numpy_legacy_choice_indices(1000, 5, 0)
    first.append(-1)
    assert numpy_legacy_choice_indices(1000, 5, 0) == first[:5]
