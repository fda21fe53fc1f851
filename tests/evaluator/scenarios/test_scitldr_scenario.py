"""SciTLDR read with HELM's SummarizationScenario rules (XSum settings), prompted with HELM's
summarization adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator import DataSource, get_suite
from evaluator.core import TEST_SPLIT, TRAIN_SPLIT
from evaluator.planning import RunPlan, plan_run_spec
from evaluator.scenarios.scitldr import SciTLDRScenario, clean_and_truncate
from evaluator.suites.pins import DATA_PINS

SCITLDR_SPEC = "summarization_scitldr:temperature=0.3"


@pytest.fixture(scope="module")
def plan(data: DataSource) -> RunPlan:
    spec = next(s for s in get_suite("neurips2023-open").run_specs if s.name == SCITLDR_SPEC)
    return plan_run_spec(spec, data)


def _papers(scenario_root: Path, split: str) -> dict[str, dict[str, list[str]]]:
    path = scenario_root / "scitldr" / "SciTLDR-A" / f"{split}.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {record["paper_id"]: record for record in records}


def test_clean_and_truncate_is_helms() -> None:
    # Newlines to spaces, whitespace collapsed, then the first max_length words.
    assert clean_and_truncate(" a\nb  c\t d ") == "a b c d"
    assert clean_and_truncate("one two three", 2) == "one two"


def test_train_articles_outside_50_to_150_words_are_dropped(data: DataSource) -> None:
    instances = SciTLDRScenario().load(data, DATA_PINS)
    train = [i for i in instances if i.split == TRAIN_SPLIT]
    test = [i for i in instances if i.split == TEST_SPLIT]
    assert (len(train), len(test)) == (100, 618)
    assert all(50 <= len(i.input.split()) <= 150 for i in train)
    # Test papers keep every TLDR as a correct reference (2 to 4 each).
    assert {len(i.all_correct_references) for i in test} == {2, 3, 4}


def _block(record: dict[str, list[str]], output: str | None) -> str:
    """One example written out from the raw record, independently of the adapter."""
    article = " ".join(" ".join(record["source"]).split())
    block = f"###\nArticle: {article}\n\nSummarize the above article in 1 sentence."
    return block if output is None else f"{block}\n{output}\n"


def test_prompt_is_helms(plan: RunPlan, scenario_root: Path) -> None:
    train, test = _papers(scenario_root, "train"), _papers(scenario_root, "test")
    # get_summarization_adapter_spec(num_sents=1): "###\nArticle: " + article + "\n\n", output
    # prefix "Summarize the above article in 1 sentence.\n", blocks joined by "\n"; 5 in-context
    # examples (HELM's seeded draw over the kept train papers) showing their first TLDR.
    example_ids = ["BkMq0oRqFQ", "B1eHgu-Fim", "SJxbps09K7", "HJf2ds2ssm", "S1gwC1StwS"]
    expected = "\n".join(
        [_block(train[i], " ".join(train[i]["target"][0].split())) for i in example_ids]
        # Evaluated: the first of numpy's seed-0 draw over the 618 test papers.
        + [_block(test["HJJ23bW0b"], None)]
    )
    evaluated = plan.eval_instances[0]
    assert plan.adapter.build_prompt(plan.train_examples, evaluated).text == expected
    assert [r.output for r in evaluated.references] == [
        " ".join(target.split()) for target in test["HJJ23bW0b"]["target"]
    ]


def test_request_is_helms(plan: RunPlan) -> None:
    evaluated = plan.eval_instances[0]
    request = plan.adapter.make_request(
        evaluated, plan.adapter.build_prompt(plan.train_examples, evaluated)
    ).request
    # XSum's settings: 64 tokens, temperature 0.3, one output, stop at the next "###".
    assert (request.max_tokens, request.temperature, request.num_completions) == (64, 0.3, 1)
    assert request.stop_sequences == ("###",)
