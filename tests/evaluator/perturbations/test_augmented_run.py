"""data_augmentation=canonical end to end: real MMLU data, the fake server, the runner.

The server answers correctly only prompts whose evaluated block is exactly an original MMLU row
(written out here from the CSV, independently of the adapter) and an invalid label otherwise. So
exact_match is 1, and each worst-case figure is the share of instances none of whose versions in
that category reached the server. That share is computed here from the prompts the server saw:
with one request at a time they arrive in HELM's order (each original, then its perturbed versions),
and a version is told apart by content alone: mild_mix lowercases the question and leaves the
options as they are; the fairness perturbations keep the question's capitals.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from evaluator import (
    DataSource,
    MemoryResponseCache,
    Neurips2023Client,
    Suite,
    SuiteResult,
    run_suite,
)
from evaluator.perturbations import FAIRNESS, ROBUSTNESS, with_data_augmentation
from evaluator.suites import DATA_PINS, mmlu_run_spec
from evaluator.testing import FakeModelServer

SUBJECTS = ("abstract_algebra", "us_foreign_policy")
INSTANCES = 10


@dataclass
class _Group:
    """What the server saw of one instance."""

    subject: str
    row: list[str]
    # The original prompt up to its evaluated block (instructions and examples).
    prefix: str
    # Category of each perturbed version, in arrival order.
    kinds: list[str] = field(default_factory=list)


def _options(row: list[str]) -> str:
    return "".join(f"\n{letter}. {text}" for letter, text in zip("ABCD", row[1:5], strict=True))


def _block(row: list[str]) -> str:
    return f"Question: {row[0]}{_options(row)}\nAnswer:"


def _run(server: FakeModelServer, suite: Suite, data: DataSource) -> SuiteResult:
    async def main() -> SuiteResult:
        async with Neurips2023Client(server.base_url) as client:
            return await run_suite(suite, client, MemoryResponseCache(), data, concurrency=1)

    return asyncio.run(main())


def test_right_only_on_unperturbed_prompts(
    data: DataSource,
    mmlu_rows: dict[str, list[list[str]]],
    mmlu_test_rows: set[tuple[str, ...]],
) -> None:
    blocks = {_block(row): (subject, row) for subject in SUBJECTS for row in mmlu_rows[subject]}

    def answer(prompt: str) -> str:
        for block, (_, row) in blocks.items():
            if prompt.endswith("\n\n" + block):
                return " " + row[5]
        return " Z"  # not an option: wrong

    suite = Suite(
        "augmented-check",
        "",
        tuple(
            with_data_augmentation(mmlu_run_spec(s, DATA_PINS, max_eval_instances=INSTANCES))
            for s in SUBJECTS
        ),
    )
    with FakeModelServer(answer=answer) as server:
        result = _run(server, suite, data)
        prompts = list(server.stats.prompts)

    # Group the prompts per instance and classify every perturbed version by its content.
    groups: list[_Group] = []
    for prompt in prompts:
        original = next((b for b in blocks if prompt.endswith("\n\n" + b)), None)
        if original is not None:
            subject, row = blocks[original]
            assert any(c.isupper() for c in row[0]), "the classification below needs capitals"
            groups.append(_Group(subject, row, prompt[: -len(original)]))
            continue
        group = groups[-1]
        # Instructions and in-context examples are never perturbed.
        assert prompt.startswith(group.prefix)
        block = prompt[len(group.prefix) :]
        tail = _options(group.row) + "\nAnswer:"
        question = block[len("Question: ") : -len(tail)] if block.endswith(tail) else None
        robust = question is not None and question == question.lower()
        group.kinds.append(ROBUSTNESS if robust else FAIRNESS)

    assert len(groups) == len(SUBJECTS) * INSTANCES
    figures: list[float] = []
    assert result.requests_sent == len(prompts) > len(groups)
    for subject in SUBJECTS:
        # Scores are over HELM's main split (test for MMLU); valid instances are asked too.
        mine = [g for g in groups if g.subject == subject and tuple(g.row) in mmlu_test_rows]
        assert 0 < len(mine) < INSTANCES  # the draw mixes both splits, or this proves little
        untouched = {
            category: sum(1 for g in mine if category not in g.kinds)
            for category in (ROBUSTNESS, FAIRNESS)
        }
        spec_name = next(name for name in result.per_run_spec if subject in name)
        assert spec_name.endswith(",data_augmentation=canonical")
        score = result.per_run_spec[spec_name]
        assert score.score == 1.0 and score.metrics["exact_match"] == 1.0
        assert score.metrics["exact_match@robustness"] == pytest.approx(
            untouched[ROBUSTNESS] / len(mine)
        )
        assert score.metrics["exact_match@fairness"] == pytest.approx(
            untouched[FAIRNESS] / len(mine)
        )
        assert score.metrics["exact_match@robustness"] < 1.0
        assert score.metrics["exact_match@fairness"] < 1.0
        figures.append(score.metrics["exact_match@fairness"])
        assert score.instances == INSTANCES and score.scored_instances == len(mine)
        asked = [g for g in groups if g.subject == subject]
        assert score.perturbed_instances == sum(len(g.kinds) for g in asked)

    # Some instance escaped every fairness perturbation, so the average is really exercised.
    assert any(0.0 < figure < 1.0 for figure in figures)

    # The evaluator's own labels agree with the classification, request by request.
    labels = [i.perturbation_category for i in result.instances]
    expected: list[str | None] = []
    for group in groups:
        expected.append(None)
        expected.extend(group.kinds)
    assert labels == expected
    assert result.scores == {"mmlu": 1.0}

    # The result says which perturbations ran and where they may differ from HELM.
    stored = json.loads(json.dumps(result.to_json()))
    described = next(iter(stored["per_run_spec"].values()))["perturbations"]
    assert [p["name"] for p in described] == ["mild_mix", "dialect", "gender", "person_name"]
    assert [p["differs_from_helm"] is not None for p in described] == [False, True, False, True]
    perturbed = [i for i in stored["instances"] if i["perturbation"] is not None]
    assert {i["perturbation"] for i in perturbed} <= {
        "mild_mix",
        "dialect",
        "gender",
        "person_name",
    }
