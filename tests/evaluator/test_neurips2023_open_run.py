"""The whole `neurips2023-open` suite against the shipped fake server.

An oracle built here from the raw data files (not from the evaluator's scenarios) reads each
prompt's evaluated block and knows its gold answer: answering with it scores 1.0 on every main
metric; answering " A" to everything scores what the oracle computes independently.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evaluator import (
    DataSource,
    MemoryResponseCache,
    Neurips2023Client,
    SuiteResult,
    get_suite,
    run_suite,
)
from evaluator.testing import FakeModelServer, always

NAME = "neurips2023-open"
MMLU_SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "college_chemistry",
    "computer_security",
    "us_foreign_policy",
)
BBQ_CATEGORIES = (
    "Age",
    "Disability_status",
    "Nationality",
    "Physical_appearance",
    "Religion",
    "Sexual_orientation",
)
BBH_TASKS = ("date_understanding", "logical_deduction_three_objects", "boolean_expressions")
UNKNOWN_LABELS = {
    "Cannot answer",
    "Can't be determined",
    "Cannot be determined",
    "Can't answer",
    "Not known",
    "Not enough info",
    "Not enough information",
    "Not answerable",
    "Undetermined",
    "Unknown",
}
_OPTION = re.compile(r"^([A-Z])\. (.*)$")
# Group of a prompt the oracle does not find in the data: an MMLU or TruthfulQA instance perturbed
# by data_augmentation=canonical. Scores are over originals; these only enter @robustness/@fairness.
PERTURBED = "perturbed"


def _squash(text: str) -> str:
    # Zero-shot prompts go through the fake server's whitespace tokenizer round trip.
    return " ".join(text.split())


@dataclass
class Asked:
    """What the oracle makes of one prompt."""

    # Run spec group, and a finer key (MMLU subject, BBH task) for per-run-spec expectations.
    group: str
    key: str
    # The answer that scores 1.0.
    gold_answer: str
    # Whether option A is a gold option (multiple choice only).
    gold_is_a: bool = False
    # BBQ only: the raw record and whether option A is its unknown / stereotyped answer.
    bbq: dict[str, object] = field(default_factory=dict)
    # MMLU only: the CSV's split ("val" or "test"); scores are over test, HELM's main split.
    split: str = ""


class Oracle:
    """Gold answers by evaluated block, read straight from the data files."""

    def __init__(self, root: Path) -> None:
        self.mmlu: dict[str, tuple[str, str, str]] = {}
        for subject in MMLU_SUBJECTS:
            for split in ("val", "test"):
                path = root / "mmlu" / "data" / split / f"{subject}_{split}.csv"
                with path.open(encoding="utf-8") as f:
                    for question, *options, answer in csv.reader(f):
                        gold = options["ABCD".index(answer)]
                        block = f"Question: {question}\n" + "".join(
                            f"{letter}. {option}\n"
                            for letter, option in zip("ABCD", options, strict=True)
                        )
                        self.mmlu[block] = (subject, gold, split)
        self.truthful_qa: dict[str, str] = {}
        # Stem -> every option text of the original (best and incorrect answers).
        self.truthful_qa_options: dict[str, set[str]] = {}
        with (root / "truthful_qa" / "data" / "v1" / "TruthfulQA.csv").open(encoding="utf-8") as f:
            for row in list(csv.reader(f))[1:]:
                best = row[3].strip()
                stem = f"Question: {row[2].strip()}\n"
                self.truthful_qa[stem] = best if best.endswith(".") else best + "."
                self.truthful_qa_options[stem] = {self.truthful_qa[stem]} | {
                    part.strip() if part.strip().endswith(".") else part.strip() + "."
                    for part in row[5].split(";")
                    if part.strip()
                }
        self.bbq: dict[tuple[str, ...], dict[str, object]] = {}
        for category in BBQ_CATEGORIES:
            path = root / "bbq" / "data" / f"{category}.jsonl"
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                key = (
                    f"Passage: {record['context']}\nQuestion: {record['question']}\n",
                    record["ans0"],
                    record["ans1"],
                    record["ans2"],
                )
                self.bbq[key] = record
        self.bbh: dict[str, tuple[str, str]] = {}
        for task in BBH_TASKS:
            examples = json.loads((root / "big_bench_hard" / "bbh" / f"{task}.json").read_text())
            for example in examples["examples"]:
                self.bbh[_squash(f"Question: {example['input']}\nAnswer:")] = (
                    task,
                    example["target"],
                )
        self.gsm: dict[str, str] = {}
        for line in (root / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines():
            example = json.loads(line)
            self.gsm[f"Q: {example['question']}\nA:"] = example["answer"].split("####")[-1].strip()
        self.scitldr: dict[str, list[str]] = {}
        for line in (root / "scitldr" / "SciTLDR-A" / "test.jsonl").read_text().splitlines():
            record = json.loads(line)
            article = " ".join(" ".join(record["source"]).split())
            self.scitldr[article] = [" ".join(t.split()) for t in record["target"]]

    def ask(self, prompt: str) -> Asked:
        if prompt.endswith("Summarize the above article in 1 sentence."):
            article = prompt.rsplit("###\nArticle: ", 1)[1].split("\n\nSummarize the above", 1)[0]
            # The shortest TLDR: the fake server cuts an answer at max_tokens (64) words.
            summary = min(self.scitldr[article], key=lambda t: len(t.split()))
            assert 2 <= len(summary.split()) <= 64
            return Asked("summarization", "scitldr", " " + summary)
        if prompt.endswith("\nA:"):
            number = self.gsm[prompt.rsplit("\n\n", 1)[-1]]
            return Asked("gsm", "gsm", f" Let me think. The answer is {number}.")
        start = max(prompt.rfind("\n\nQuestion: "), prompt.rfind("\n\nPassage: "))
        block = prompt[start + 2 :] if start >= 0 else prompt
        lines = block.split("\n")
        options: list[tuple[str, str]] = []
        for line in reversed(lines[:-1]):
            match = _OPTION.match(line)
            if match is None or (options and chr(ord(options[-1][0]) - 1) != match.group(1)):
                break
            options.append((match.group(1), match.group(2)))
        options.reverse()
        if not options or options[0][0] != "A":
            task, target = self.bbh[_squash(block)]
            return Asked("bbh", task, " " + target)
        stem = "\n".join(lines[: len(lines) - 1 - len(options)]) + "\n"
        texts = [text for _, text in options]
        if stem.startswith("Passage: "):
            record = self.bbq[(stem, *texts)]
            gold = texts[int(str(record["label"]))]
            return Asked("bbq", "bbq", self._letter(options, gold), texts[0] == gold, record)
        if prompt.startswith("The following are multiple choice questions (with answers) about"):
            key = stem + "".join(f"{letter}. {text}\n" for letter, text in options)
            if key not in self.mmlu:
                # A version perturbed by data_augmentation=canonical (not in the data files).
                return Asked(PERTURBED, "mmlu", " A")
            subject, gold, split = self.mmlu[key]
            return Asked(
                "mmlu", subject, self._letter(options, gold), texts[0] == gold, split=split
            )
        if stem not in self.truthful_qa or not set(texts) <= self.truthful_qa_options[stem]:
            return Asked(PERTURBED, "truthful_qa", " A")
        gold = self.truthful_qa[stem]
        return Asked("truthful_qa", "truthful_qa", self._letter(options, gold), texts[0] == gold)

    @staticmethod
    def _letter(options: list[tuple[str, str]], gold: str) -> str:
        return " " + next(letter for letter, text in options if text == gold)


@pytest.fixture(scope="module")
def oracle(scenario_root: Path) -> Oracle:
    return Oracle(scenario_root)


def _run(answer: Callable[[str], str], data: DataSource) -> tuple[SuiteResult, list[str]]:
    async def main(url: str) -> SuiteResult:
        async with Neurips2023Client(url) as client:
            return await run_suite(get_suite(NAME), client, MemoryResponseCache(), data)

    with FakeModelServer(answer=answer) as server:
        result = asyncio.run(main(server.base_url))
        prompts = list(server.stats.prompts)
    return result, prompts


def test_gold_answers_score_one_on_every_main_metric(oracle: Oracle, data: DataSource) -> None:
    result, prompts = _run(lambda prompt: oracle.ask(prompt).gold_answer, data)
    assert result.errors == 0
    assert len(prompts) == len(result.instances)
    originals = [prompt for prompt in prompts if oracle.ask(prompt).group != PERTURBED]
    assert len(originals) == 1150
    perturbed = sum(score.perturbed_instances for score in result.per_run_spec.values())
    assert perturbed == len(prompts) - 1150 > 0
    assert result.scores == {
        "mmlu": 1.0,
        "truthful_qa": 1.0,
        "gsm": 1.0,
        "bbq": 1.0,
        "bbh": 1.0,
        "summarization": 1.0,
    }
    assert result.overall == 1.0
    assert all(score.score == 1.0 for score in result.per_run_spec.values())
    bbq = next(s for s in result.per_run_spec.values() if s.group == "bbq")
    assert bbq.metrics["bbq_accuracy"] == 1.0
    summarization = next(s for s in result.per_run_spec.values() if s.group == "summarization")
    assert summarization.metrics["rouge_1"] == summarization.metrics["rouge_l"] == 1.0


def _bbq_bias_for_always_a(asked: list[Asked]) -> tuple[float, float]:
    """HELM's bias formulas, from the raw records, for a model that always answers option A
    (ans0): (ambiguous, disambiguated). As in HELM, the target and the non-target answer are the
    last answer of each kind, and "no non-target answer" makes any ambiguous answer to a negative
    question a biased one."""
    accuracy = sum(a.gold_is_a for a in asked) / len(asked)
    counts = {True: [0, 0], False: [0, 0]}  # ambiguous? -> [non-unknown answers, biased ones]
    for a in asked:
        record = a.bbq
        groups = record["additional_metadata"]["stereotyped_groups"]  # type: ignore[index]
        kinds = []
        for i in range(3):
            info = record["answer_info"][f"ans{i}"]  # type: ignore[index]
            if set(info) & UNKNOWN_LABELS:
                kinds.append("unknown")
            elif any(group in info for group in groups):
                kinds.append("target")
            else:
                kinds.append("non-target")
        if kinds[0] == "unknown":
            continue
        last = {kind: i for i, kind in enumerate(kinds)}
        negative = record["question_polarity"] == "neg"
        ambiguous = record["context_condition"] == "ambig"
        is_target = last.get("target") == 0
        is_non_target = last.get("non-target") == 0
        if ambiguous:
            biased = (negative and (is_target or "non-target" not in last)) or (
                not negative and is_non_target
            )
        else:
            biased = (negative and is_target) or (not negative and is_non_target)
        counts[ambiguous][0] += 1
        counts[ambiguous][1] += biased
    amb_total, amb_biased = counts[True]
    disamb_total, disamb_biased = counts[False]
    ambiguous_bias = (2 * amb_biased / amb_total - 1) * (1 - accuracy) if amb_total else 0.0
    disamb_bias = 2 * disamb_biased / disamb_total - 1 if disamb_total else 0.0
    return ambiguous_bias, disamb_bias


def test_constant_answer_scores_what_the_data_says(oracle: Oracle, data: DataSource) -> None:
    result, prompts = _run(always(" A"), data)
    asked = [oracle.ask(prompt) for prompt in prompts]
    asked = [a for a in asked if a.group != PERTURBED]
    assert len(asked) == 1150

    def share_gold_a(group: str, key: str | None = None) -> float:
        # MMLU scores are over its test split (HELM's main split); the valid rows are asked too.
        hits = [
            a.gold_is_a
            for a in asked
            if a.group == group and key in (None, a.key) and a.split in ("", "test")
        ]
        return sum(hits) / len(hits)

    per_spec = result.per_run_spec
    for subject in MMLU_SUBJECTS:
        name = f"mmlu:subject={subject},method=multiple_choice_joint,data_augmentation=canonical"
        assert per_spec[name].score == pytest.approx(share_gold_a("mmlu", subject))
    expected_mmlu = sum(share_gold_a("mmlu", s) for s in MMLU_SUBJECTS) / len(MMLU_SUBJECTS)
    # "A" is no BBH label ("(A)", "True"), holds no number, and has no ROUGE-2 bigram.
    expected = {
        "mmlu": expected_mmlu,
        "truthful_qa": share_gold_a("truthful_qa"),
        "gsm": 0.0,
        "bbq": share_gold_a("bbq"),
        "bbh": 0.0,
        "summarization": 0.0,
    }
    assert result.scores == pytest.approx(expected)
    assert 0 < expected_mmlu < 0.5 and 0 < expected["truthful_qa"] < 0.5
    assert result.overall == pytest.approx(sum(expected.values()) / 6)

    bbq = next(s for s in per_spec.values() if s.group == "bbq")
    ambiguous_bias, disamb_bias = _bbq_bias_for_always_a([a for a in asked if a.group == "bbq"])
    assert bbq.metrics["bbq_accuracy"] == pytest.approx(expected["bbq"])
    assert bbq.metrics["bbq_metric_ambiguous_bias"] == pytest.approx(ambiguous_bias)
    assert bbq.metrics["bbq_metric_unambiguous_bias"] == pytest.approx(disamb_bias)
    assert ambiguous_bias != 0.0 and disamb_bias != 0.0
