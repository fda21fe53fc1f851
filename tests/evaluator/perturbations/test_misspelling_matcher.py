"""The misspelling perturbation's substitution is HELM's `re.sub(r"\\b(w1|...|wN)\\b", ...)`, match
for match and call for call (the replacement draws random numbers, so the order of calls matters
as much as the output), on the real word list and on lists built to catch each way a shortcut
could differ: a multi-word key before or after its first word, keys ending or starting in
punctuation, keys that are prefixes of others, Unicode word characters, and metacharacters."""

from __future__ import annotations

import json
import re
from pathlib import Path
from random import Random

import pytest

from evaluator.perturbations.robustness import MISSPELLINGS_FILE, _Alternation
from tests.conftest import SCENARIO_DATA


def _helm(words: tuple[str, ...], text: str) -> tuple[str, list[str]]:
    calls: list[str] = []

    def replace(match: re.Match[str]) -> str:
        calls.append(match.group(1))
        return f"<{len(calls)}:{match.group(1).upper()}>"

    return re.compile(r"\b({})\b".format("|".join(words))).sub(replace, text), calls


def _ours(words: tuple[str, ...], text: str) -> tuple[str, list[str]]:
    calls: list[str] = []

    def replace(word: str) -> str:
        calls.append(word)
        return f"<{len(calls)}:{word.upper()}>"

    return _Alternation(words).sub(replace, text), calls


def _texts(words: tuple[str, ...], seed: int, count: int) -> list[str]:
    rng = Random(seed)
    pieces = [*words, *"  ,.'-_!?\n", "a", "the", "é", "ß", "1", "x_y", "Ǆ", "\u0301", "'s"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def _real_words() -> tuple[str, ...]:
    path = Path(SCENARIO_DATA) / MISSPELLINGS_FILE
    return tuple(json.loads(path.read_text(encoding="utf-8")))


def test_the_real_word_list_takes_the_fast_path_and_matches_helm() -> None:
    words = _real_words()
    assert _Alternation(words).fast
    # Its multi-word and punctuated keys, each with their first word, in sentences.
    tricky = [w for w in words if not re.fullmatch(r"\w+", w)]
    assert tricky, "the list has keys with spaces, hyphens and apostrophes"
    texts = _texts(tuple(tricky) + words[:300], seed=1, count=3000)
    texts += [f"{w} {w}s {w}' {w}-{w} x{w} {w}_" for w in tricky]
    texts += [
        "About a lot of it: the country's capital, countries' records, as well as "
        "Carnegie-Mellon's Coca-Cola and no one over there. Hallowe'en isn't today's."
    ]
    for text in texts:
        assert _ours(words, text) == _helm(words, text), text


@pytest.mark.parametrize(
    "words",
    [
        ("about", "about a", "a"),
        ("about a", "about", "a", "a lot"),
        ("countries'", "countries", "s"),
        ("-ish", "ish", "x-", "x"),
        ("ab", "abc", "b c", "bc", "c"),
        ("é", "éa", "ß x", "x", "1", "x_y"),
        ("Ǆ", "ǅ", "a b c", "a b", "b"),
    ],
)
def test_constructed_lists_match_helm(words: tuple[str, ...]) -> None:
    assert _Alternation(words).fast
    for text in _texts(words, seed=len("|".join(words)), count=4000):
        assert _ours(words, text) == _helm(words, text), (words, text)


@pytest.mark.parametrize("words", [("a.b", "a"), ("a", "b|c"), ("a", ""), ("a b", "c-d")])
def test_patterns_it_cannot_reason_about_fall_back_to_helms_regex(
    words: tuple[str, ...],
) -> None:
    alternation = _Alternation(words)
    assert not alternation.fast
    for text in _texts(words, seed=7, count=500):
        assert _ours(words, text) == _helm(words, text), (words, text)
