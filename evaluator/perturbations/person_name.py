"""Person-name fairness perturbation, ported from HELM (augmentations/person_name_perturbation.py).

HELM replaces first names associated with one group (canonical: `race=white_american`) by names of
another (`race=black_american`), keeping the gender of the name, and keeps each substitution
consistent across the input and the references of an instance.

HELM reads its names from `person_names.txt`, downloaded at run time from its bucket; no public
copy exists, so by default this port uses its own list, `PODIUM_FIRST_NAMES` below, in HELM's file
format. HELM documents its first names as Greenwald et al. (1998)'s full list (via Caliskan et al.
2017); ours is written out from those published name sets, by group, in our own order, and is not
HELM's file: as `rng.choice` picks by position, substituted names will differ from an official HELM
run even where the groups agree. Results say so. Given HELM's own file (pinned under the data root
and named in `name_file`), the same code produces HELM's output.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from functools import reduce
from random import Random
from typing import Any

from evaluator.core import Instance
from evaluator.perturbations.base import (
    FAIRNESS,
    Perturbation,
    Resources,
    match_case,
    register_perturbation,
)

# One `name,first_name|last_name[,category,value]*` record per line, as HELM's person_names.txt.
# First names after Greenwald, McGhee & Schwartz (1998), grouped by the two categories HELM's
# canonical run uses; order within a group is ours. Hyphenated names never match a token (HELM
# splits text at every non-word character) but are kept to keep the published sets whole.
PODIUM_FIRST_NAMES = """\
adam,first_name,race,white_american,gender,male
alan,first_name,race,white_american,gender,male
andrew,first_name,race,white_american,gender,male
brad,first_name,race,white_american,gender,male
brandon,first_name,race,white_american,gender,male
chip,first_name,race,white_american,gender,male
frank,first_name,race,white_american,gender,male
fred,first_name,race,white_american,gender,male
greg,first_name,race,white_american,gender,male
hank,first_name,race,white_american,gender,male
harry,first_name,race,white_american,gender,male
ian,first_name,race,white_american,gender,male
jack,first_name,race,white_american,gender,male
jed,first_name,race,white_american,gender,male
jonathan,first_name,race,white_american,gender,male
josh,first_name,race,white_american,gender,male
justin,first_name,race,white_american,gender,male
matthew,first_name,race,white_american,gender,male
paul,first_name,race,white_american,gender,male
peter,first_name,race,white_american,gender,male
roger,first_name,race,white_american,gender,male
ryan,first_name,race,white_american,gender,male
stephen,first_name,race,white_american,gender,male
todd,first_name,race,white_american,gender,male
wilbur,first_name,race,white_american,gender,male
amanda,first_name,race,white_american,gender,female
amber,first_name,race,white_american,gender,female
betsy,first_name,race,white_american,gender,female
bobbie-sue,first_name,race,white_american,gender,female
colleen,first_name,race,white_american,gender,female
courtney,first_name,race,white_american,gender,female
crystal,first_name,race,white_american,gender,female
donna,first_name,race,white_american,gender,female
ellen,first_name,race,white_american,gender,female
emily,first_name,race,white_american,gender,female
heather,first_name,race,white_american,gender,female
katie,first_name,race,white_american,gender,female
kristin,first_name,race,white_american,gender,female
lauren,first_name,race,white_american,gender,female
megan,first_name,race,white_american,gender,female
melanie,first_name,race,white_american,gender,female
meredith,first_name,race,white_american,gender,female
nancy,first_name,race,white_american,gender,female
peggy,first_name,race,white_american,gender,female
rachel,first_name,race,white_american,gender,female
sara,first_name,race,white_american,gender,female
shannon,first_name,race,white_american,gender,female
stephanie,first_name,race,white_american,gender,female
sue-ellen,first_name,race,white_american,gender,female
wendy,first_name,race,white_american,gender,female
alonzo,first_name,race,black_american,gender,male
alphonse,first_name,race,black_american,gender,male
darnell,first_name,race,black_american,gender,male
deion,first_name,race,black_american,gender,male
everol,first_name,race,black_american,gender,male
jamel,first_name,race,black_american,gender,male
jerome,first_name,race,black_american,gender,male
lamar,first_name,race,black_american,gender,male
lamont,first_name,race,black_american,gender,male
lavon,first_name,race,black_american,gender,male
lerone,first_name,race,black_american,gender,male
leroy,first_name,race,black_american,gender,male
lionel,first_name,race,black_american,gender,male
malik,first_name,race,black_american,gender,male
marcellus,first_name,race,black_american,gender,male
percell,first_name,race,black_american,gender,male
rasaan,first_name,race,black_american,gender,male
rashaun,first_name,race,black_american,gender,male
terrence,first_name,race,black_american,gender,male
terryl,first_name,race,black_american,gender,male
theo,first_name,race,black_american,gender,male
torrance,first_name,race,black_american,gender,male
tyree,first_name,race,black_american,gender,male
tyrone,first_name,race,black_american,gender,male
wardell,first_name,race,black_american,gender,male
aiesha,first_name,race,black_american,gender,female
ebony,first_name,race,black_american,gender,female
jasmine,first_name,race,black_american,gender,female
lakisha,first_name,race,black_american,gender,female
lashandra,first_name,race,black_american,gender,female
lashelle,first_name,race,black_american,gender,female
latisha,first_name,race,black_american,gender,female
latonya,first_name,race,black_american,gender,female
latoya,first_name,race,black_american,gender,female
malika,first_name,race,black_american,gender,female
nichelle,first_name,race,black_american,gender,female
shaniqua,first_name,race,black_american,gender,female
shanise,first_name,race,black_american,gender,female
sharise,first_name,race,black_american,gender,female
shavonn,first_name,race,black_american,gender,female
shereen,first_name,race,black_american,gender,female
tameisha,first_name,race,black_american,gender,female
tanisha,first_name,race,black_american,gender,female
tashika,first_name,race,black_american,gender,female
tawanda,first_name,race,black_american,gender,female
temeka,first_name,race,black_american,gender,female
teretha,first_name,race,black_american,gender,female
tia,first_name,race,black_american,gender,female
yolanda,first_name,race,black_american,gender,female
yvette,first_name,race,black_american,gender,female
"""

PODIUM_FIRST_NAMES_SHA256 = hashlib.sha256(PODIUM_FIRST_NAMES.encode("utf-8")).hexdigest()

FIRST_NAME = "first_name"
LAST_NAME = "last_name"
GENDER_CATEGORY = "gender"
# HELM's lookup order for a name's gender.
GENDERS: tuple[str, ...] = ("female", "male", "neutral")


def parse_class(value: str | Mapping[str, str]) -> dict[str, str]:
    """A class as HELM's `source_class` / `target_class` dict, lowered. Run specs write it as
    HELM's description does, "race=white_american[,gender=female]"."""
    if isinstance(value, Mapping):
        pairs = [(str(key), str(val)) for key, val in value.items()]
    else:
        pairs = [(key, val) for key, _, val in (part.partition("=") for part in value.split(","))]
    if not pairs or not all(key.strip() and val.strip() for key, val in pairs):
        raise ValueError(f"a name class is 'category=value[,category=value]', not {value!r}")
    return {key.strip().lower(): val.strip().lower() for key, val in pairs}


def load_name_file(text: str, person_name_type: str) -> dict[str, dict[str, list[str]]]:
    """category -> value -> names, in file order (HELM's `load_name_file`, quirks included:
    only the name is stripped, and only records of `person_name_type` count)."""
    mapping: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in text.splitlines():
        name, name_type, *categories = line.split(",")
        for index in range(len(categories) // 2):
            category, value = categories[2 * index], categories[2 * index + 1]
            if name_type == person_name_type:
                mapping[category][value].append(name.strip().lower())
    return mapping


@register_perturbation
class PersonNamePerturbation(Perturbation):
    """HELM's `person_name` (see the module docstring for how its name list differs)."""

    name = "person_name"
    category = FAIRNESS
    should_perturb_references = True

    def __init__(
        self,
        resources: Resources | None = None,
        *,
        prob: float,
        source_class: str,
        target_class: str,
        person_name_type: str = FIRST_NAME,
        preserve_gender: bool = True,
        name_file: str | None = None,
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"person name probability must be in [0, 1], not {prob}")
        self.prob = prob
        self.person_name_type = person_name_type.lower()
        if self.person_name_type not in (FIRST_NAME, LAST_NAME):
            raise ValueError(f"person_name_type must be {FIRST_NAME} or {LAST_NAME}")
        if name_file:
            if resources is None:
                raise ValueError("a person name file needs the pinned data directory")
            text = resources.read_text(name_file)
        else:
            text = PODIUM_FIRST_NAMES
        self.mapping = load_name_file(text, self.person_name_type)
        if not self.mapping:
            raise ValueError(f"no {self.person_name_type} records in the person name list")
        self.source_names = self._names(parse_class(source_class))
        self.target_names = self._names(parse_class(target_class))
        self.preserve_gender = preserve_gender
        if preserve_gender and (
            self.person_name_type != FIRST_NAME or not self.mapping.get(GENDER_CATEGORY)
        ):
            raise ValueError("preserve_gender needs first names with gender records")

    @classmethod
    def files(cls, args: Mapping[str, Any]) -> tuple[str, ...]:
        name_file = args.get("name_file")
        return (str(name_file),) if name_file else ()

    @classmethod
    def differences_from_helm(cls, args: Mapping[str, Any]) -> str | None:
        if args.get("name_file"):
            return None
        return (
            "HELM's person_names.txt is not public; Podium's own first-name list (after "
            "Greenwald et al. 1998, the source HELM cites, in Podium's order) is used instead, so "
            "substituted names differ from official HELM runs"
        )

    @classmethod
    def code_pin(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        pin = super().code_pin(args)
        if not args.get("name_file"):
            pin["names_sha256"] = PODIUM_FIRST_NAMES_SHA256
        return pin

    def _names(self, selected: Mapping[str, str]) -> list[str]:
        """Names in every selected category value (HELM's `get_possible_names`)."""
        lists = []
        for category, value in selected.items():
            names = self.mapping.get(category, {}).get(value)
            if not names:
                raise ValueError(f"no {self.person_name_type} in {category}={value}")
            lists.append(names)
        return reduce(lambda a, b: [item for item in a if item in b], lists)

    def _gender(self, name: str) -> str | None:
        genders = self.mapping.get(GENDER_CATEGORY, {})
        return next((g for g in GENDERS if name in genders.get(g, ())), None)

    def _substitute_name(self, token: str, rng: Random) -> str | None:
        """A target name for `token` (HELM's `get_substitute_name`); None when gender is kept
        and no target name has the token's gender."""
        options = self.target_names
        if self.preserve_gender:
            gender = self._gender(token.lower())
            if gender:
                gendered = self.mapping[GENDER_CATEGORY][gender]
                options = [name for name in self.target_names if name in gendered]
                if not options:
                    return None
        return rng.choice(options)

    def _perturb(
        self, text: str, rng: Random, substitutions: dict[str, str], skipped: set[str]
    ) -> str:
        """HELM's `perturb_with_persistency`: a name keeps its substitute across the texts of
        one instance, and a name left alone once is left alone everywhere."""
        tokens = re.split(r"([^\w])", text)
        result: list[str] = []
        for token in tokens:
            lowered = token.lower()
            known = lowered in substitutions or lowered in skipped
            if not known and lowered in self.source_names:
                if rng.uniform(0, 1) < self.prob:
                    name = self._substitute_name(token, rng)
                    if name:
                        substitutions[lowered] = name
                else:
                    skipped.add(lowered)
            if lowered in substitutions:
                token = match_case(token, substitutions[lowered])
            result.append(token)
        return "".join(result)

    def apply(self, instance: Instance, seed: int | None = None) -> Instance:
        # HELM seeds this one with the instance id alone, whatever the seed.
        rng = self.get_rng(instance)
        substitutions: dict[str, str] = {}
        skipped: set[str] = set()
        references = tuple(
            replace(reference, output=self._perturb(reference.output, rng, substitutions, skipped))
            for reference in instance.references
        )
        text = self._perturb(instance.input, rng, substitutions, skipped)
        return replace(instance, input=text, references=references)
