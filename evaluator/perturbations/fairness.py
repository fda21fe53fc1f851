"""Fairness perturbations on dialect and gender, ported from HELM (augmentations/
dialect_perturbation.py, gender_perturbation.py). Both perturb the references too.

Their matching has HELM's quirks on purpose, so outputs equal HELM's: a word is only replaced when
a character precedes and follows it (never the first or last word of a text), and two candidates
separated by a single character cannot both be replaced (the separator is consumed by the first
match). HELM's own tests skip those cases as known limitations (helm#1958).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from random import Random
from typing import Any

from evaluator.perturbations.base import (
    FAIRNESS,
    Resources,
    TextPerturbation,
    match_case,
    register_perturbation,
)

SAE_TO_AAVE_FILE = "augmentations/SAE_to_AAVE_mapping.json"


@register_perturbation
class DialectPerturbation(TextPerturbation):
    """HELM's `dialect`: Standard American English words replaced by African American English
    ones (Ziems et al. 2022, VALUE), each with probability `prob`, case matched.

    The mapping read here is `augmentations/SAE_to_AAVE_mapping.json` from the pinned data
    directory. HELM downloads its own JSON conversion of the VALUE lexicon from its bucket; that
    file is not publicly mirrored, so ours was converted from the original VALUE pickle
    (`SALT-NLP/value`, each substitute set written as a sorted list). It passes HELM's dialect unit
    test, but its lists may be ordered differently from HELM's, or differ in entries, so a seeded
    substitution can differ from an official HELM run. Results say so.
    """

    name = "dialect"
    category = FAIRNESS
    should_perturb_references = True

    SAE = "SAE"
    AAVE = "AAVE"
    # (source, target) -> mapping file under the data root.
    MAPPING_FILES: dict[tuple[str, str], str] = {(SAE, AAVE): SAE_TO_AAVE_FILE}

    def __init__(
        self,
        resources: Resources,
        prob: float,
        source_class: str,
        target_class: str,
        mapping_file: str | None = None,
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"dialect probability must be in [0, 1], not {prob}")
        self.prob = prob
        self.mapping_file = self._mapping_file(source_class, target_class, mapping_file)
        self.mapping: dict[str, list[str]] = resources.read_json(self.mapping_file)
        words = "|".join(re.escape(word) for word in self.mapping)
        # HELM's pattern: a listed word between characters that are neither word characters nor
        # "-", matched case-insensitively (so "With" in " With," is found).
        self.pattern = re.compile(f"[^\\w-]({words})[^\\w-]", flags=re.IGNORECASE)

    @classmethod
    def _mapping_file(cls, source: str, target: str, mapping_file: str | None) -> str:
        if mapping_file:
            return mapping_file
        key = (source.upper(), target.upper())
        if key not in cls.MAPPING_FILES:
            raise ValueError(
                f"no dialect mapping from {source} to {target}; known: {sorted(cls.MAPPING_FILES)}"
            )
        return cls.MAPPING_FILES[key]

    @classmethod
    def files(cls, args: Mapping[str, Any]) -> tuple[str, ...]:
        return (
            cls._mapping_file(
                str(args["source_class"]), str(args["target_class"]), args.get("mapping_file")
            ),
        )

    @classmethod
    def differences_from_helm(cls, args: Mapping[str, Any]) -> str | None:
        if args.get("mapping_file"):
            return None
        return (
            "SAE_to_AAVE_mapping.json is converted from the VALUE lexicon (SALT-NLP/value "
            "sae_aave_mapping_dict.pkl, substitute sets as sorted lists), not HELM's hosted copy, "
            "which is not public; list order or entries may differ, so substitutions may differ "
            "from official HELM runs"
        )

    def perturb(self, text: str, rng: Random) -> str:
        def substitute(match: re.Match[str]) -> str:
            matched = match.group(0)  # with its delimiters, e.g. " With,"
            word = match.group(1)
            if rng.uniform(0, 1) < self.prob:
                synonym = match_case(word, rng.choice(self.mapping[word.lower()]))
                # HELM replaces inside the whole match, delimiters included.
                matched = matched.replace(word, synonym)
            return matched

        return self.pattern.sub(substitute, text)


# HELM's GENDER_TERM_MAPPINGS as (neutral, female, male), in HELM's order (Garg et al. 2018,
# Bolukbasi et al. 2016, HELM's additions; "grandfather" twice is HELM's).
GENDER_TERM_MAPPINGS: tuple[tuple[str, str, str], ...] = (
    ("child", "daughter", "son"),
    ("children", "daughters", "sons"),
    ("parent", "mother", "father"),
    ("parents", "mothers", "fathers"),
    ("kiddo", "girl", "boy"),
    ("kiddos", "girls", "boys"),
    ("person", "woman", "man"),
    ("people", "women", "men"),
    ("sibling", "sister", "brother"),
    ("siblings", "sisters", "brothers"),
    ("nibling", "niece", "nephew"),
    ("niblings", "nieces", "nephews"),
    ("monarch", "queen", "king"),
    ("monarchs", "queens", "kings"),
    ("server", "waitress", "waiter"),
    ("servers", "waitresses", "waiters"),
    ("parent", "mom", "dad"),
    ("parents", "moms", "dads"),
    ("stepchild", "stepdaughter", "stepson"),
    ("stepchildren", "stepdaughters", "stepsons"),
    ("stepparent", "stepmother", "stepfather"),
    ("stepparents", "stepmothers", "stepfathers"),
    ("stepparent", "stepmom", "stepdad"),
    ("stepparents", "stepmoms", "stepdads"),
    ("grandchild", "granddaughter", "grandson"),
    ("grandchildren", "granddaughters", "grandsons"),
    ("grandparent", "grandmother", "grandfather"),
    ("grandparents", "grandmothers", "grandfather"),
    ("grandparent", "grandma", "granddad"),
    ("grandparents", "grandmas", "granddads"),
    ("human", "female", "male"),
    ("humans", "females", "males"),
)

# HELM's GENDER_PRONOUN_MAPPINGS as (neutral, female, male) (Lauscher et al. 2022). "his" maps
# to both "her" and "hers"; as in HELM the first pair wins.
GENDER_PRONOUN_MAPPINGS: tuple[tuple[str, str, str], ...] = (
    ("they", "she", "he"),
    ("them", "her", "him"),
    ("their", "her", "his"),
    ("theirs", "hers", "his"),
    ("themselves", "herself", "himself"),
)


@register_perturbation
class GenderPerturbation(TextPerturbation):
    """HELM's `gender`: gender terms or pronouns of `source_class` replaced by those of
    `target_class`, each occurrence with probability `prob`, case matched; pairs applied one after
    the other in list order."""

    name = "gender"
    category = FAIRNESS
    should_perturb_references = True

    GENDERS: tuple[str, ...] = ("neutral", "female", "male")
    MODES: dict[str, tuple[tuple[str, str, str], ...]] = {
        "terms": GENDER_TERM_MAPPINGS,
        "pronouns": GENDER_PRONOUN_MAPPINGS,
    }

    def __init__(
        self,
        resources: Resources | None = None,
        *,
        mode: str,
        prob: float,
        source_class: str,
        target_class: str,
        bidirectional: bool = False,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"gender mode must be one of {sorted(self.MODES)}, not {mode!r}")
        if not 0 <= prob <= 1:
            raise ValueError(f"gender probability must be in [0, 1], not {prob}")
        source, target = source_class.lower(), target_class.lower()
        if source not in self.GENDERS or target not in self.GENDERS:
            raise ValueError(f"gender classes must be among {self.GENDERS}")
        self.prob = prob
        mappings = self.MODES[mode]
        source_words = [m[self.GENDERS.index(source)] for m in mappings]
        target_words = [m[self.GENDERS.index(target)] for m in mappings]
        self.pairs = list(zip(source_words, target_words, strict=True))
        if bidirectional:
            self.pairs.extend(zip(target_words, source_words, strict=True))

    def _substitute(self, text: str, word: str, synonym: str, rng: Random) -> str:
        def substitute(match: re.Match[str]) -> str:
            matched = match.group(0)  # with its delimiters, e.g. " Man,"
            found = match.group(1)
            if rng.uniform(0, 1) < self.prob:
                matched = matched.replace(found, match_case(found, synonym))
            return matched

        # HELM's pattern: the word, unescaped, between two non-word characters.
        return re.sub(f"[^\\w]({word})[^\\w]", substitute, text, flags=re.IGNORECASE)

    def perturb(self, text: str, rng: Random) -> str:
        for word, synonym in self.pairs:
            text = self._substitute(text, word, synonym, rng)
        return text
