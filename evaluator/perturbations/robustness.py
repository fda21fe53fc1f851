"""Robustness perturbations, ported from HELM (augmentations/lowercase_perturbation.py,
contraction_expansion_perturbation.py, misspelling_perturbation.py, space_perturbation.py,
extra_space_perturbation.py, mild_mix_perturbation.py).

`mild_mix` is HELM's canonical robustness perturbation: lowercase, contract, misspell (10% of the
words that have a known misspelling), then replace every run of spaces with 1 to 3 spaces, all from
one random generator per instance. Only the input is perturbed: "it's not fair to have to generate
broken text" (HELM).

Regular expressions are built exactly as HELM builds them (same alternatives, same order, same
flags), since with an alternation the first alternative that matches wins and the random draws
happen once per match: any difference there would change which words are perturbed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from random import Random
from typing import Any

from evaluator.perturbations.base import (
    ROBUSTNESS,
    Resources,
    TextPerturbation,
    match_case,
    register_perturbation,
)

MISSPELLINGS_FILE = "augmentations/correct_to_misspelling.json"

# HELM's CONTRACTION_MAP (from NL-Augmenter's contraction_expansions), in HELM's order: the order
# decides which contraction an expansion maps back to when several share it ("is not" -> "isn't").
CONTRACTION_MAP: dict[str, str] = {
    "ain't": "is not",
    "aren't": "are not",
    "can't": "cannot",
    "can't've": "cannot have",
    "could've": "could have",
    "couldn't": "could not",
    "didn't": "did not",
    "doesn't": "does not",
    "don't": "do not",
    "hadn't": "had not",
    "hasn't": "has not",
    "haven't": "have not",
    "he'd": "he would",
    "he'd've": "he would have",
    "he'll": "he will",
    "he's": "he is",
    "how'd": "how did",
    "how'd'y": "how do you",
    "how'll": "how will",
    "how's": "how is",
    "I'd": "I would",
    "I'll": "I will",
    "I'm": "I am",
    "I've": "I have",
    "i'd": "i would",
    "i'll": "i will",
    "i'm": "i am",
    "i've": "i have",
    "isn't": "is not",
    "it'd": "it would",
    "it'll": "it will",
    "it's": "it is",
    "ma'am": "madam",
    "might've": "might have",
    "mightn't": "might not",
    "must've": "must have",
    "mustn't": "must not",
    "needn't": "need not",
    "oughtn't": "ought not",
    "shan't": "shall not",
    "she'd": "she would",
    "she'll": "she will",
    "she's": "she is",
    "should've": "should have",
    "shouldn't": "should not",
    "that'd": "that would",
    "that's": "that is",
    "there'd": "there would",
    "there's": "there is",
    "they'd": "they would",
    "they'll": "they will",
    "they're": "they are",
    "they've": "they have",
    "wasn't": "was not",
    "we'd": "we would",
    "we'll": "we will",
    "we're": "we are",
    "we've": "we have",
    "weren't": "were not",
    "what're": "what are",
    "what's": "what is",
    "when's": "when is",
    "where'd": "where did",
    "where's": "where is",
    "where've": "where have",
    "who'll": "who will",
    "who's": "who is",
    "who've": "who have",
    "why's": "why is",
    "won't": "will not",
    "would've": "would have",
    "wouldn't": "would not",
    "you'd": "you would",
    "you'd've": "you would have",
    "you'll": "you will",
    "you're": "you are",
    "you've": "you have",
}


@register_perturbation
class LowerCasePerturbation(TextPerturbation):
    """HELM's `lowercase`: the whole text in lower case."""

    name = "lowercase"
    category = ROBUSTNESS

    def __init__(self, resources: Resources | None = None) -> None:
        pass

    def perturb(self, text: str, rng: Random) -> str:
        return text.lower()


@register_perturbation
class ContractionPerturbation(TextPerturbation):
    """HELM's `contraction`: "She is a doctor" -> "She's a doctor".

    Only an expansion followed by a space is contracted, so a sentence's last words stay as they
    are (HELM's comment: "avoid contract end of sentence").
    """

    name = "contraction"
    category = ROBUSTNESS

    def __init__(self, resources: Resources | None = None) -> None:
        # Later keys overwrite earlier ones for a shared expansion, while the alternation keeps
        # the position of the first: both as in HELM's dict comprehension.
        self.reverse_map = {value: key for key, value in CONTRACTION_MAP.items()}
        self.pattern = re.compile(
            r"\b({})\b ".format("|".join(self.reverse_map)), flags=re.IGNORECASE | re.DOTALL
        )

    def perturb(self, text: str, rng: Random) -> str:
        def contract(match: re.Match[str]) -> str:
            words = match.group(1)
            contraction = self.reverse_map.get(words, self.reverse_map.get(words.lower()))
            # Every alternative matches case-insensitively one of the keys or its lower case.
            assert contraction is not None
            return match_case(words, contraction) + " "

        return self.pattern.sub(contract, text)


@register_perturbation
class ExpansionPerturbation(TextPerturbation):
    """HELM's `expansion`: "She's a doctor" -> "She is a doctor" (not part of `canonical`)."""

    name = "expansion"
    category = ROBUSTNESS

    def __init__(self, resources: Resources | None = None) -> None:
        self.pattern = re.compile(
            r"\b({})\b".format("|".join(CONTRACTION_MAP)), flags=re.IGNORECASE | re.DOTALL
        )

    def perturb(self, text: str, rng: Random) -> str:
        def expand(match: re.Match[str]) -> str:
            contraction = match.group(0)
            words = CONTRACTION_MAP.get(contraction, CONTRACTION_MAP.get(contraction.lower()))
            assert words is not None
            return match_case(contraction, words)

        return self.pattern.sub(expand, text)


@register_perturbation
class MisspellingPerturbation(TextPerturbation):
    """HELM's `misspellings`: each word with a known common misspelling is replaced by one of them
    (chosen at random, case matched) with probability `prob`.

    The word list is HELM's `correct_to_misspelling.json` (from Wikipedia's list of common
    misspellings), read from the pinned data directory. The pattern is HELM's: the keys joined
    unescaped in file order between word boundaries, case-sensitive.
    """

    name = "misspellings"
    category = ROBUSTNESS

    def __init__(
        self,
        resources: Resources,
        prob: float,
        misspellings_file: str = MISSPELLINGS_FILE,
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"misspelling probability must be in [0, 1], not {prob}")
        self.prob = prob
        self.correct_to_misspelling: dict[str, list[str]] = resources.read_json(misspellings_file)
        self.pattern = _compiled_alternation(tuple(self.correct_to_misspelling))

    @classmethod
    def files(cls, args: Mapping[str, Any]) -> tuple[str, ...]:
        return (str(args.get("misspellings_file") or MISSPELLINGS_FILE),)

    def perturb(self, text: str, rng: Random) -> str:
        def misspell(word: str) -> str:
            if rng.random() < self.prob:
                return match_case(word, str(rng.choice(self.correct_to_misspelling[word])))
            return word

        return self.pattern.sub(misspell, text)


_WORD_RUN = re.compile(r"\w+")
_WORD_ONLY = re.compile(r"\w+")
# Characters with a meaning in a pattern outside a character class; a key without any is a
# literal alternative (HELM joins the keys unescaped).
_METACHARACTERS = frozenset(".^$*+?{}[]\\|()")


class _Alternation:
    r"""`re.sub` of HELM's `\b(w1|w2|...|wN)\b` (keys unescaped, in order), computed the same
    way for less: thousands of alternatives tried at every position took over 40% of planning.

    Why it is the same substitution, match for match and in the same order (so the random draws
    of the replacement function are too). `re.sub` scans left to right; at the first position p
    where an alternative matches, the first matching alternative in file order wins, and the scan
    resumes at the match's end. Split the keys into W (word characters only) and N (the rest).
    - A W key k matches at p exactly when k is the whole maximal run of word characters starting
      at p: its first character is a word character, so `\b` before it means p starts a run; its
      last is one, so `\b` after it means the run ends there. So at p at most one W key matches,
      found by looking the run up in a dict; and W keys only match at run starts.
    - `\b(N keys in file order)\b`.search(text, pos) is the first position at or after pos where
      an N key matches, with the first N key (in file order) that matches there; `\b` looks at
      the text before pos as `re.sub` does.
    - Every match ends at a word boundary, so the scan resumes at a boundary, never inside a run:
      the maximal runs of the whole text that start there or later are the ones to look up.
    So the leftmost of the next W run in the dict and the next N match is the next match of the
    whole pattern; where both are at one position, the key earlier in the file wins.
    Keys are literal text only when none holds a metacharacter, and no key may be empty (an
    empty alternative matches nothing but a boundary): otherwise, and for a list without W keys,
    HELM's pattern itself is used.
    """

    def __init__(self, words: tuple[str, ...]) -> None:
        literal = all(word and _METACHARACTERS.isdisjoint(word) for word in words)
        index = {word: i for i, word in reversed(list(enumerate(words)))}
        self.word_keys = {w: i for w, i in index.items() if _WORD_ONLY.fullmatch(w)}
        self.fast = literal and bool(self.word_keys)
        # HELM's pattern, only where it is what runs.
        self.pattern = None if self.fast else re.compile(r"\b({})\b".format("|".join(words)))
        others = [w for w in words if w not in self.word_keys]
        self.other_keys = {w: i for w, i in index.items() if w not in self.word_keys}
        self.others = re.compile(r"\b({})\b".format("|".join(others))) if others else None

    def sub(self, replace: Callable[[str], str], text: str) -> str:
        if self.pattern is not None:
            return self.pattern.sub(lambda match: replace(match.group(1)), text)
        word_keys, other_keys, others = self.word_keys, self.other_keys, self.others
        out: list[str] = []
        pos = 0  # where the scan resumes; text[:pos] is in out
        other = others.search(text, 0) if others is not None else None
        runs = _WORD_RUN.finditer(text)
        run = next(runs, None)
        while True:
            # The next run at or after pos whose text is a W key.
            while run is not None and (run.start() < pos or run.group() not in word_keys):
                run = next(runs, None)
            if other is not None and other.start() < pos:
                assert others is not None
                other = others.search(text, pos)
            if run is None and other is None:
                break
            if other is None or (
                run is not None
                and (
                    run.start() < other.start()
                    or (
                        run.start() == other.start()
                        and word_keys[run.group()] < other_keys[other.group(1)]
                    )
                )
            ):
                assert run is not None
                start, key = run.start(), run.group()
            else:
                start, key = other.start(), other.group(1)
            out.append(text[pos:start])
            out.append(replace(key))
            pos = start + len(key)
        out.append(text[pos:])
        return "".join(out)


_ALTERNATIONS: dict[tuple[str, ...], _Alternation] = {}


def _compiled_alternation(words: tuple[str, ...]) -> _Alternation:
    r"""HELM's `\b(w1|w2|...)\b` substitution, built once per word list (thousands of
    alternatives take a while to compile, and every MMLU subject builds its own perturbation)."""
    alternation = _ALTERNATIONS.get(words)
    if alternation is None:
        alternation = _ALTERNATIONS[words] = _Alternation(words)
    return alternation


@register_perturbation
class SpacePerturbation(TextPerturbation):
    """HELM's `space`: every run of spaces becomes 1 to `max_spaces` spaces (uniformly drawn)."""

    name = "space"
    category = ROBUSTNESS

    def __init__(self, resources: Resources | None = None, *, max_spaces: int) -> None:
        self.max_spaces = max_spaces

    def perturb(self, text: str, rng: Random) -> str:
        return re.sub(r" +", lambda _match: " " * rng.randint(1, self.max_spaces), text)


@register_perturbation
class ExtraSpacePerturbation(TextPerturbation):
    """HELM's `extra_space`: every space becomes `num_spaces` spaces (not part of `canonical`)."""

    name = "extra_space"
    category = ROBUSTNESS

    def __init__(self, resources: Resources | None = None, *, num_spaces: int) -> None:
        self.num_spaces = num_spaces

    def perturb(self, text: str, rng: Random) -> str:
        return text.replace(" ", " " * self.num_spaces)


@register_perturbation
class MildMixPerturbation(TextPerturbation):
    """HELM's `mild_mix`, the canonical robustness perturbation: lowercase, contractions,
    misspellings (prob 0.1), spaces (max 3), in that order, sharing one random generator."""

    name = "mild_mix"
    category = ROBUSTNESS
    should_perturb_references = False

    def __init__(self, resources: Resources) -> None:
        self.lowercase = LowerCasePerturbation()
        self.contraction = ContractionPerturbation()
        self.misspelling = MisspellingPerturbation(resources, prob=0.1)
        self.space = SpacePerturbation(max_spaces=3)

    @classmethod
    def files(cls, args: Mapping[str, Any]) -> tuple[str, ...]:
        return (MISSPELLINGS_FILE,)

    def perturb(self, text: str, rng: Random) -> str:
        text = self.lowercase.perturb(text, rng)
        text = self.contraction.perturb(text, rng)
        text = self.misspelling.perturb(text, rng)
        return self.space.perturb(text, rng)
