from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from evaluator import DataSource, Suite, get_suite
from evaluator.specs import RunSpec

# Changing this is a deliberate act: evaluations made under another hash are not comparable.
SMOKE_HASH = "25e562f18182d00313c85a4634188fb661a598ff31b5f9d73fedd28b573c8964"


def test_smoke_suite_shape() -> None:
    suite = get_suite("smoke")
    assert suite.groups == ("mmlu",)
    assert [s.scenario_kwargs["subject"] for s in suite.run_specs] == [
        "abstract_algebra",
        "college_chemistry",
        "computer_security",
        "us_foreign_policy",
    ]
    for spec in suite.run_specs:
        assert (spec.max_eval_instances, spec.eval_seed, spec.context_window) == (10, 0, 2048)
        assert spec.adapter.max_train_instances == 5
        assert spec.main_metric == "exact_match"


def test_pins_are_the_manifest_hashes(scenario_root: Path) -> None:
    manifest = json.loads((scenario_root / "MANIFEST.json").read_text())
    by_file = {entry["file"]: entry["sha256"] for entry in manifest}
    pins = get_suite("smoke").data_files
    assert len(pins) == 12  # dev, val, test of four subjects
    assert pins == {path: by_file[path] for path in pins}


def test_pinned_files_verify(data: DataSource) -> None:
    data.verify(get_suite("smoke").data_files)


def test_content_hash_is_pinned() -> None:
    assert get_suite("smoke").content_hash == SMOKE_HASH
    assert get_suite("smoke").content_hash == get_suite("smoke").content_hash


def _with_first_spec(suite: Suite, **changes: object) -> Suite:
    first: RunSpec = replace(suite.run_specs[0], **changes)  # type: ignore[arg-type]
    return replace(suite, run_specs=(first, *suite.run_specs[1:]))


@pytest.mark.parametrize(
    "changes",
    [
        {"eval_seed": 1},
        {"max_eval_instances": 11},
        {"context_window": 4096},
        {"metrics": ("exact_match",)},
    ],
)
def test_content_hash_changes_with_what_decides_scores(changes: dict[str, object]) -> None:
    smoke = get_suite("smoke")
    assert _with_first_spec(smoke, **changes).content_hash != smoke.content_hash


def test_content_hash_changes_with_a_pin_or_the_prompt_format() -> None:
    smoke = get_suite("smoke")
    path, _ = smoke.run_specs[0].data_files[0]
    repinned = ((path, "0" * 64), *smoke.run_specs[0].data_files[1:])
    assert _with_first_spec(smoke, data_files=repinned).content_hash != smoke.content_hash
    adapter = replace(smoke.run_specs[0].adapter, output_prefix="A: ")
    assert _with_first_spec(smoke, adapter=adapter).content_hash != smoke.content_hash


def test_suite_definitions_are_checked_when_built() -> None:
    smoke = get_suite("smoke")
    with pytest.raises(ValueError, match="duplicate run spec names"):
        Suite("twice", "", (smoke.run_specs[0], smoke.run_specs[0]))
    with pytest.raises(LookupError, match="unknown metric 'exact_mach'"):
        _with_first_spec(smoke, metrics=("exact_mach",), main_metric="exact_mach")
