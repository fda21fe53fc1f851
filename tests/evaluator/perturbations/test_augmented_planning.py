"""Planning with HELM's data_augmentation=canonical: what is sent, and what the suite pin covers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from evaluator import DataSource, Suite
from evaluator.perturbations import (
    AUGMENTATION_PINS,
    canonical_perturbations,
    with_data_augmentation,
)
from evaluator.perturbations import person_name as person_name_module
from evaluator.perturbations.augmentation import dialect
from evaluator.planning import plan_run_spec
from evaluator.specs import PerturbationSpec, RunSpec
from evaluator.suites import DATA_PINS, mmlu_run_spec

SUBJECT = "us_foreign_policy"


def _plain() -> RunSpec:
    return mmlu_run_spec(SUBJECT, DATA_PINS, max_eval_instances=10)


def _augmented() -> RunSpec:
    return with_data_augmentation(_plain())


def test_augmented_run_spec_is_named_and_pinned_as_helms() -> None:
    spec = _augmented()
    assert spec.name == f"{_plain().name},data_augmentation=canonical"
    assert spec.perturbations == canonical_perturbations()
    assert [p.name for p in spec.perturbations] == ["mild_mix", "dialect", "gender", "person_name"]
    assert dict(spec.data_files) == {**dict(_plain().data_files), **AUGMENTATION_PINS}
    with pytest.raises(ValueError, match="already has perturbations"):
        with_data_augmentation(spec)
    with pytest.raises(ValueError, match="unknown data augmentation"):
        with_data_augmentation(_plain(), "everything")


def test_only_eval_instances_are_perturbed_after_the_draw(data: DataSource) -> None:
    plain = plan_run_spec(_plain(), data)
    plan = plan_run_spec(_augmented(), data)
    # Same draw of evaluation instances and in-context examples: HELM perturbs after
    # downsampling, and never the train instances.
    assert plan.eval_instances == plain.eval_instances
    assert plan.train_examples == plain.train_examples
    items = plan.evaluation_items()
    assert len(items) == len(plan.eval_instances) + len(plan.perturbed) > len(plan.eval_instances)
    # Each original, then its perturbed versions (same id), in the canonical order.
    order = [p.name for p in canonical_perturbations()]
    current, seen = None, -1
    for instance, perturbation in items:
        if perturbation is None:
            current, seen = instance, -1
            continue
        assert current is not None and instance.id == current.id
        assert instance.split == current.split
        assert (instance.input, instance.references) != (current.input, current.references)
        assert order.index(perturbation.name) > seen
        seen = order.index(perturbation.name)
        # The perturbed prompt keeps the original's instructions and examples verbatim.
        original = plan.adapter.build_prompt(plan.train_examples, current)
        perturbed = plan.adapter.build_prompt(plan.train_examples, instance)
        assert perturbed.train_instance_blocks == original.train_instance_blocks
        assert perturbed.instructions_block == original.instructions_block
        assert perturbed.eval_instance_block != original.eval_instance_block


def test_mild_mix_leaves_options_and_fairness_may_change_them(data: DataSource) -> None:
    plan = plan_run_spec(_augmented(), data)
    by_id = {instance.id: instance for instance in plan.eval_instances}
    for copy in plan.perturbed:
        original = by_id[copy.instance.id]
        if copy.perturbation.name == "mild_mix":
            assert copy.instance.references == original.references
            assert copy.instance.input == copy.instance.input.lower()
        # Tags (which option is correct) are never changed.
        assert [r.tags for r in copy.instance.references] == [r.tags for r in original.references]
    assert any(
        c.instance.references != by_id[c.instance.id].references
        for c in plan.perturbed
        if c.perturbation.name == "dialect"
    )


def test_unpinned_resources_are_refused(data: DataSource) -> None:
    spec = replace(_plain(), perturbations=canonical_perturbations())
    with pytest.raises(ValueError, match="perturbation resources without a pin"):
        Suite("bad", "", (spec,))
    with pytest.raises(ValueError, match="without a sha256 pin"):
        plan_run_spec(spec, data)
    unknown = replace(_augmented(), perturbations=(PerturbationSpec("synonym"),))
    with pytest.raises(LookupError, match="unknown perturbation 'synonym'"):
        Suite("bad", "", (unknown,))


def _hash(spec: RunSpec) -> str:
    return Suite("check", "", (spec,)).content_hash


def test_content_hash_covers_perturbations_resources_and_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    augmented = _augmented()
    base = _hash(augmented)
    assert base != _hash(replace(augmented, name=_plain().name, perturbations=()))
    # A perturbation's argument.
    weaker = (
        canonical_perturbations()[0],
        dialect(0.5, "SAE", "AAVE"),
        *augmented.perturbations[2:],
    )
    assert _hash(replace(augmented, perturbations=weaker)) != base
    # A resource file's sha256.
    repinned = tuple(
        (path, "0" * 64 if path in AUGMENTATION_PINS else sha) for path, sha in augmented.data_files
    )
    assert _hash(replace(augmented, data_files=repinned)) != base
    # The built-in name list (code, not a data file).
    monkeypatch.setattr(person_name_module, "PODIUM_FIRST_NAMES_SHA256", "f" * 64)
    assert _hash(augmented) != base
