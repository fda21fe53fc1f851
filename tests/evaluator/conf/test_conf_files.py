"""HELM run-entry files as suites: the parser, the description rules, the errors, and the
organizers' 2023 open conf against the suite Podium ships."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from evaluator import get_suite
from evaluator.conf import ConfError, parse_conf, parse_description, suite_from_conf
from evaluator.testing.fake_server import FakeModelServer, FakeServerConfig
from tests.conftest import SCENARIO_DATA

CHALLENGE = SCENARIO_DATA.parent / "challenge-2023"
OPEN_CONF = CHALLENGE / "run_specs_open_2000_budget.conf"


def _conf(*descriptions: str) -> bytes:
    body = "\n".join(f'  {{description: "{d}", priority: 1}}' for d in descriptions)
    return f"# test conf\nentries: [\n{body}\n]\n".encode()


def test_parses_comments_commas_and_quoted_keys() -> None:
    text = (
        "// header\n"
        "entries: [\n"
        '  {description: "gsm:max_eval_instances=3", priority: 2},  # trailing comment\n'
        '  {"description": "bbq:subject=all", "priority": 1}\n'
        "]\n"
    )
    entries = parse_conf(text, "t.conf")
    assert [(e.description, e.priority, e.line) for e in entries] == [
        ("gsm:max_eval_instances=3", 2, 3),
        ("bbq:subject=all", 1, 4),
    ]
    desc = parse_description(entries[0])
    assert desc.name == "gsm" and desc.args == (("max_eval_instances", "3"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('entries: [\n {description: "gsm"\n', "line 2: the entry is never closed"),
        ("runs: []", "starts with 'entries: ['"),
        (
            'entries: [\n {description: "gsm", weight: 2}\n]',
            "line 2: unknown entry field 'weight'",
        ),
        ("entries: []", "the entries list is empty"),
        ("entries: [\n {priority: 1}\n]", "line 2: the entry has no 'description'"),
    ],
)
def test_malformed_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfError, match=re.escape(message)):
        parse_conf(text, "t.conf")


def test_unknown_scenario_names_the_entry_line_and_supported_names() -> None:
    data = _conf("gsm:max_eval_instances=2", "natural_qa:mode=closedbook")
    with pytest.raises(ConfError) as info:
        suite_from_conf(data, name="t", source="t.conf")
    message = str(info.value)
    assert "t.conf, line 4" in message and "'natural_qa'" in message
    assert "supported: bbq, big_bench, gsm, mmlu, truthful_qa" in message


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("mmlu:subject=anatomy,shots=3", "unknown argument(s) shots for mmlu"),
        ("mmlu:subject=astrology", "MMLU has no subject 'astrology'"),
        ("mmlu:model=x", "mmlu needs the argument subject"),
        ("gsm:max_eval_instances=ten", "max_eval_instances must be a positive whole number"),
        ("gsm:data_augmentation=typos", "data_augmentation=typos is not supported"),
        ("big_bench:task=navigate,subtask=", "is not in the scenario data set"),
        ("truthful_qa:task=mc_multi", "task 'mc_multi' is not supported"),
        ("mmlu:subject=anatomy,method=multiple_choice_separate_original", "not supported"),
    ],
)
def test_bad_arguments_are_refused(description: str, message: str) -> None:
    with pytest.raises(ConfError, match=re.escape(message)):
        suite_from_conf(_conf(description), name="t", source="t.conf")


def test_expanders_apply_in_order_and_model_is_ignored() -> None:
    built = suite_from_conf(
        _conf(
            "big_bench:model=neurips/local,max_train_instances=big_bench_few_shot_setting,"
            "task=operators,subtask=,max_eval_instances=7",
            "mmlu:model=neurips/local,subject=anatomy,data_augmentation=canonical,"
            "max_eval_instances=4",
        ),
        name="t",
    )
    names = [spec.name for spec in built.suite.run_specs]
    # HELM's run spec names (its run expanders in the entry's order), without `model=`.
    assert names == [
        *(
            f"big_bench:task=operators,max_train_instances={n},max_eval_instances=7"
            for n in range(4)
        ),
        "mmlu:subject=anatomy,method=multiple_choice_joint,data_augmentation=canonical,"
        "max_eval_instances=4",
    ]
    specs = built.suite.run_specs
    assert [s.adapter.max_train_instances for s in specs[:4]] == [0, 1, 2, 3]
    assert all(s.max_eval_instances == 7 for s in specs[:4])
    assert specs[4].perturbations and specs[4].max_eval_instances == 4


def test_the_conf_bytes_are_in_the_content_hash() -> None:
    one = suite_from_conf(_conf("gsm:max_eval_instances=2"), name="t").suite
    other = suite_from_conf(_conf("gsm:max_eval_instances=2") + b"# edited\n", name="t").suite
    assert one.run_specs == other.run_specs
    assert one.content_hash != other.content_hash
    assert one.source_sha256 == hashlib.sha256(_conf("gsm:max_eval_instances=2")).hexdigest()


def test_the_2023_open_conf_is_the_shipped_suite() -> None:
    data = OPEN_CONF.read_bytes()
    entries = parse_conf(data.decode(), OPEN_CONF.name)
    assert len(entries) == 87
    built = suite_from_conf(data, name="conf", source=OPEN_CONF.name)
    shipped = get_suite("neurips2023-final-open")
    assert built.suite.run_specs == shipped.run_specs
    # Every entry became its run specs: 29 BIG-bench entries x 4 shot settings, 55 MMLU
    # subjects, TruthfulQA, GSM8K, BBQ; the caps add up to the 2,000-instance budget.
    kinds = [parse_description(e).name for e in entries]
    assert kinds.count("big_bench") == 29 and kinds.count("mmlu") == 55
    assert [len(names) for _, names in built.entries] == [
        4 if kind == "big_bench" else 1 for kind in kinds
    ]
    budget = sum(int(parse_description(e).arg("max_eval_instances") or 0) for e in entries)
    assert budget == 2000
    assert "2000 evaluation instances" in built.suite.description
    groups = {spec.group for spec in shipped.run_specs}
    assert groups == {"big_bench", "mmlu", "truthful_qa", "gsm", "bbq"}


def test_podium_eval_conf_sends_nothing_before_the_whole_file_validates(tmp_path: Path) -> None:
    conf = tmp_path / "mine.conf"
    conf.write_bytes(_conf("gsm:max_eval_instances=2", "mmlu:subject=anatomy,bogus=1"))
    with FakeModelServer(FakeServerConfig()) as server:
        result = CliRunner().invoke(
            main, ["eval", "--base-url", server.base_url, "--conf", str(conf), "--no-cache"]
        )
        assert result.exit_code != 0
        assert "mine.conf, line 4" in result.output and "bogus" in result.output
        assert "Error: error:" not in result.output
        stats = server.stats
        assert (stats.process_requests, stats.tokenize_requests) == (0, 0)


def test_podium_eval_conf_runs_a_conf(tmp_path: Path) -> None:
    conf = tmp_path / "small.conf"
    conf.write_bytes(
        _conf(
            "big_bench:max_train_instances=big_bench_few_shot_setting,task=operators,subtask=,"
            "max_eval_instances=3",
            "gsm:max_eval_instances=2",
        )
    )
    out = tmp_path / "result.json"
    with FakeModelServer(FakeServerConfig()) as server:
        result = CliRunner().invoke(
            main,
            [
                "eval",
                "--base-url",
                server.base_url,
                "--conf",
                str(conf),
                "--no-cache",
                "--data-dir",
                str(SCENARIO_DATA),
                "--out",
                str(out),
            ],
        )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert set(saved["scores"]) == {"big_bench", "gsm"}
    assert len(saved["per_run_spec"]) == 5
    # HELM's core_scenarios columns, the names the organizers ranked on.
    assert saved["helm_columns"] == {
        "BIG-bench - EM": saved["scores"]["big_bench"],
        "GSM8K - EM": saved["scores"]["gsm"],
    }
