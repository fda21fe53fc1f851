from __future__ import annotations

import hashlib
from pathlib import Path

from evaluator import DataSource
from evaluator.core import CORRECT_TAG, TEST_SPLIT, TRAIN_SPLIT, VALID_SPLIT
from evaluator.scenarios.mmlu import MMLUScenario, mmlu_file, parse_mmlu_csv
from evaluator.suites.pins import DATA_PINS


def test_crlf_inside_quoted_fields_becomes_lf_as_in_helm() -> None:
    # HELM opens the CSV in text mode: universal newlines turn "\r\n" into "\n", even inside
    # quoted fields, and strip it from the answer letter at the end of a CRLF line.
    data = b'"Line one\r\nline two?",x,y,z,w,C\r\nQ2,a,b,c,d,A\r\n'
    first, second = parse_mmlu_csv(data, TEST_SPLIT, "inline")
    assert first.input == "Line one\nline two?"
    assert [r.output for r in first.references if r.is_correct] == ["z"]
    assert second.first_correct_reference is not None
    assert second.first_correct_reference.output == "a"


def test_an_option_equal_to_the_answer_text_is_also_correct() -> None:
    # HELM tags references by comparing texts, so duplicated options are both correct.
    (instance,) = parse_mmlu_csv(b"Q,same,other,same,x,C\n", TEST_SPLIT, "inline")
    assert [r.tags for r in instance.references] == [(CORRECT_TAG,), (), (CORRECT_TAG,), ()]


def test_loads_splits_in_helm_order_with_helm_ids(data: DataSource) -> None:
    scenario = MMLUScenario("abstract_algebra")
    instances = scenario.load(data, DATA_PINS)
    splits = [i.split for i in instances]
    assert splits == [TRAIN_SPLIT] * 5 + [VALID_SPLIT] * 11 + [TEST_SPLIT] * 100
    assert [i.id for i in instances[:2]] == ["id0", "id1"]
    assert instances[0].input == "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field."
    assert [r.output for r in instances[0].references] == ["0", "1", "2", "3"]
    assert instances[0].first_correct_reference is not None
    assert instances[0].first_correct_reference.output == "1"


def test_files_are_dev_val_test_of_the_subject() -> None:
    assert MMLUScenario("anatomy").files() == [
        mmlu_file("anatomy", "dev"),
        mmlu_file("anatomy", "val"),
        mmlu_file("anatomy", "test"),
    ]


def test_crlf_file_from_the_data_set_parses(scenario_root: Path) -> None:
    # college_chemistry_val.csv uses CRLF line ends in the shared data.
    path = mmlu_file("college_chemistry", "val")
    raw = (scenario_root / path).read_bytes()
    assert b"\r\n" in raw
    instances = parse_mmlu_csv(raw, VALID_SPLIT, path)
    assert hashlib.sha256(raw).hexdigest() == DATA_PINS[path]
    assert len(instances) == 8
    assert all(not i.input.endswith("\r") for i in instances)
    assert all(i.first_correct_reference is not None for i in instances)
