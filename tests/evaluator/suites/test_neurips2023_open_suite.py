from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from evaluator import DataSource, Suite, get_suite
from evaluator.scenarios.bbq import MISSING_CATEGORIES

NAME = "neurips2023-open"
# Changing this is a deliberate act: evaluations made under another hash are not comparable.
OPEN_HASH = "afb82d062afe7d463d2457f1e122c18007310a01939333e4814456664245a9b4"
# MMLU and TruthfulQA run with HELM's data_augmentation=canonical, as in the challenge.
CANONICAL = ",data_augmentation=canonical"


def test_groups_and_run_specs() -> None:
    suite = get_suite(NAME)
    assert suite.groups == ("mmlu", "truthful_qa", "gsm", "bbq", "bbh", "summarization")
    by_group: dict[str, list[str]] = {}
    for spec in suite.run_specs:
        by_group.setdefault(spec.group, []).append(spec.name)
    assert by_group["mmlu"] == [
        f"mmlu:subject={subject},method=multiple_choice_joint{CANONICAL}"
        for subject in (
            "abstract_algebra",
            "anatomy",
            "college_chemistry",
            "computer_security",
            "us_foreign_policy",
        )
    ]
    assert by_group["truthful_qa"] == [
        f"truthful_qa:task=mc_single,method=multiple_choice_joint{CANONICAL}"
    ]
    assert by_group["gsm"] == ["gsm"]
    assert by_group["bbq"] == ["bbq:subject=all,method=multiple_choice_joint"]
    assert by_group["bbh"] == [
        f"big_bench_hard:task={task},max_train_instances={shots}"
        for task in ("date_understanding", "logical_deduction_three_objects", "boolean_expressions")
        for shots in (0, 1, 2, 3)
    ]
    assert by_group["summarization"] == ["summarization_scitldr:temperature=0.3"]


def test_main_metrics_and_instance_counts() -> None:
    specs = get_suite(NAME).run_specs
    main = {spec.group: spec.main_metric for spec in specs}
    assert main == {
        "mmlu": "exact_match",
        "truthful_qa": "exact_match",
        "gsm": "final_number_exact_match",
        "bbq": "exact_match",
        "bbh": "exact_match",
        "summarization": "rouge_2",
    }
    assert all(spec.eval_seed == 0 and spec.context_window == 2048 for spec in specs)
    counts = {spec.name: spec.max_eval_instances for spec in specs}
    assert all(count is not None and 50 <= count <= 100 for count in counts.values())
    assert sum(count or 0 for count in counts.values()) == 1150
    bbq = next(spec for spec in specs if spec.group == "bbq")
    assert "bbq" in bbq.metrics  # HELM's bias scores reported next to exact match
    shots = [spec.adapter.max_train_instances for spec in specs if spec.group == "bbh"]
    assert shots == [0, 1, 2, 3] * 3


def test_description_names_the_missing_bbq_categories() -> None:
    description = get_suite(NAME).description
    assert "6 of 11" in description
    assert all(category in description for category in MISSING_CATEGORIES)


def test_every_data_file_is_pinned_to_the_manifest(scenario_root: Path, data: DataSource) -> None:
    manifest = json.loads((scenario_root / "MANIFEST.json").read_text())
    by_file = {entry["file"]: entry["sha256"] for entry in manifest}
    pins = get_suite(NAME).data_files
    # MMLU 5 x 3, GSM8K 2, TruthfulQA 1, BBQ 6, BBH 3, SciTLDR 2, perturbation word lists 2.
    assert len(pins) == 31
    assert pins == {path: by_file[path] for path in pins}
    assert "truthful_qa/data/v1/TruthfulQA.csv" in pins
    data.verify(pins)


def test_content_hash_is_pinned_and_smoke_is_unchanged() -> None:
    assert get_suite(NAME).content_hash == OPEN_HASH
    assert get_suite("smoke").content_hash == (
        "25e562f18182d00313c85a4634188fb661a598ff31b5f9d73fedd28b573c8964"
    )


def test_a_run_level_metric_cannot_be_the_main_metric() -> None:
    # Its values have their own names (bbq_accuracy, ...), so the run spec would have no score.
    bbq = next(spec for spec in get_suite(NAME).run_specs if spec.group == "bbq")
    with pytest.raises(ValueError, match="run-level"):
        Suite("bad", "", (replace(bbq, main_metric="bbq"),))
