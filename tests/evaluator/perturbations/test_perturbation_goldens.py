"""Perturbed texts as HELM produces them.

Each `test_helm_*` case is ported from stanford-crfm/helm
src/helm/benchmark/augmentations/test_perturbation.py (named in the comment), with HELM's inputs,
instance id ("id0") and expected outputs: HELM seeds its generator with the instance id, so equal
texts here mean equal texts there. Cases HELM cannot reproduce offline (its person-name list is not
public) check properties instead, plus a pinned output of our own list.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from evaluator import DataSource
from evaluator.core import Instance, Reference
from evaluator.perturbations import (
    AUGMENTATION_PINS,
    FAIRNESS,
    ROBUSTNESS,
    Resources,
    TextPerturbation,
    augment,
    canonical_perturbations,
    create_perturbation,
    describe_perturbation,
    match_case,
)
from evaluator.perturbations.augmentation import dialect, gender, mild_mix, person_name
from evaluator.perturbations.person_name import PODIUM_FIRST_NAMES, PersonNamePerturbation
from evaluator.specs import PerturbationSpec


@pytest.fixture(scope="module")
def resources(data: DataSource) -> Resources:
    return Resources(data, AUGMENTATION_PINS)


def _apply(
    resources: Resources,
    spec: PerturbationSpec,
    text: str,
    references: tuple[str, ...] = (),
    instance_id: str = "id0",
) -> tuple[str, list[str]]:
    instance = Instance(
        input=text,
        references=tuple(Reference(output) for output in references),
        split="test",
        id=instance_id,
    )
    perturbed = create_perturbation(spec, resources).apply(instance)
    assert perturbed.id == instance.id and perturbed.split == instance.split
    return perturbed.input, [reference.output for reference in perturbed.references]


def test_augmentation_pins_are_the_manifest_hashes(scenario_root: Path) -> None:
    import json

    manifest = json.loads((scenario_root / "MANIFEST.json").read_text())
    by_file = {entry["file"]: entry["sha256"] for entry in manifest}
    assert AUGMENTATION_PINS == {path: by_file[path] for path in AUGMENTATION_PINS}


def test_helm_extra_space(resources: Resources) -> None:
    # HELM test_extra_space_perturbation
    spec = PerturbationSpec("extra_space", (("num_spaces", 2),))
    assert _apply(resources, spec, "Hello my name is", ("some name",)) == (
        "Hello  my  name  is",
        ["some name"],
    )


def test_helm_misspelling(resources: Resources) -> None:
    # HELM test_misspelling_perturbation: prob 1.0, the choice among misspellings is seeded
    spec = PerturbationSpec("misspellings", (("prob", 1.0),))
    text, _ = _apply(resources, spec, "Already, the new product is not available.")
    assert text == "Alreayd, hten new product is nto avaliable."


def test_helm_contraction(resources: Resources) -> None:
    # HELM test_contraction_perturbation: references are left alone
    spec = PerturbationSpec("contraction")
    assert _apply(resources, spec, "She is a doctor, and I am a student", ("he is a teacher",)) == (
        "She's a doctor, and I'm a student",
        ["he is a teacher"],
    )


def test_helm_expansion(resources: Resources) -> None:
    # HELM test_expansion_perturbation
    spec = PerturbationSpec("expansion")
    assert _apply(resources, spec, "She's a doctor, and I'm a student", ("he's a teacher",)) == (
        "She is a doctor, and I am a student",
        ["he's a teacher"],
    )


def test_helm_lowercase(resources: Resources) -> None:
    # HELM test_lowercase_perturbation
    spec = PerturbationSpec("lowercase")
    assert _apply(resources, spec, "Hello World!\nQuite a day, huh?", ("Yes!",)) == (
        "hello world!\nquite a day, huh?",
        ["Yes!"],
    )


def test_helm_space(resources: Resources) -> None:
    # HELM test_space_perturbation: max_spaces=3, draws seeded by "id0"
    spec = PerturbationSpec("space", (("max_spaces", 3),))
    text, _ = _apply(resources, spec, "Hello World!\nQuite a day, huh?")
    assert text == "Hello   World!\nQuite a  day,   huh?"


def test_helm_dialect(resources: Resources) -> None:
    # HELM test_dialect_perturbation: references first, then the input, from one generator
    spec = dialect(prob=1.0, source_class="SAE", target_class="AAVE")
    text = "I will remember this day to be the best day of my life."
    assert _apply(resources, spec, text, ("Is this love?",)) == (
        "I gon remember dis day to b the best day of mah life.",
        ["Is dis love?"],
    )


def test_helm_gender_pronouns(resources: Resources) -> None:
    # HELM test_gender_pronoun_perturbation
    spec = gender(mode="pronouns", prob=1.0, source_class="male", target_class="female")
    text = "Did she mention that he was coming with his parents and their friends?"
    assert _apply(resources, spec, text, ("She didn't, perhaps he didn't tell her!",)) == (
        "Did she mention that she was coming with her parents and their friends?",
        ["She didn't, perhaps she didn't tell her!"],
    )


def test_helm_gender_terms(resources: Resources) -> None:
    # HELM test_gender_term_perturbation: "His" opens the text, so it is not replaced
    spec = gender(mode="terms", prob=1.0, source_class="male", target_class="female")
    text = "His grandsons looked a lot like their dad."
    assert _apply(resources, spec, text, ("How did their father look like?",)) == (
        "His granddaughters looked a lot like their mom.",
        ["How did their mother look like?"],
    )


def test_helm_gender_known_limitations(resources: Resources) -> None:
    # HELM test_gender_term_perturbation_edge_word and ..._consequtive_words are skipped in HELM
    # ("Currently cannot replace words at either text boundary" / "separated by 1 character",
    # helm#1958). HELM's actual output is what a faithful port must give:
    spec = gender(mode="terms", prob=1.0, source_class="male", target_class="female")
    assert _apply(resources, spec, "dad said it is okay", ("Sure he did son",)) == (
        "dad said it is okay",
        ["Sure he did son"],
    )
    text, _ = _apply(resources, spec, "I'm a dad dad: my son has a son.")
    assert text == "I'm a mom dad: my daughter has a daughter."


def test_helm_person_name_structure(resources: Resources) -> None:
    # HELM test_person_name_perturbation, on Podium's name list (HELM's is not public, so the
    # names drawn differ from HELM's "Lamar, Tyree, and Sharise"): white American first names
    # become Black American ones of the same gender, consistently across input and references,
    # with the case of each occurrence kept.
    spec = canonical_perturbations()[-1]
    assert spec.name == "person_name"
    text = "I learned that Jack, Peter, and Lauren are siblings! Do you know who is the oldest?"
    perturbed, references = _apply(resources, spec, text, ("Peter and peter were friends.",))
    match = re.fullmatch(
        r"I learned that (\w+), (\w+), and (\w+) are siblings! Do you know who is the oldest\?",
        perturbed,
    )
    assert match is not None
    jack, peter, lauren = match.groups()
    groups = _name_groups()
    assert jack.lower() in groups["black_american", "male"]
    assert peter.lower() in groups["black_american", "male"]
    assert lauren.lower() in groups["black_american", "female"]
    assert all(name[0].isupper() and name[1:].islower() for name in (jack, peter, lauren))
    assert references == [f"{peter} and {peter.lower()} were friends."]
    # Our list's draw for HELM's case, pinned so a change of list or code is seen.
    assert (perturbed, references) == (
        "I learned that Leroy, Marcellus, and Tanisha are siblings! Do you know who is the oldest?",
        ["Marcellus and marcellus were friends."],
    )


def _name_groups() -> dict[tuple[str, str], set[str]]:
    groups: dict[tuple[str, str], set[str]] = {}
    for line in PODIUM_FIRST_NAMES.splitlines():
        name, _, _, race, _, sex = line.split(",")
        groups.setdefault((race, sex), set()).add(name)
    return groups


def test_person_name_list_is_grouped_like_helms() -> None:
    groups = _name_groups()
    assert sorted(groups) == [
        ("black_american", "female"),
        ("black_american", "male"),
        ("white_american", "female"),
        ("white_american", "male"),
    ]
    assert all(len(names) == 25 for names in groups.values())


def test_person_name_with_helm_format_file(data: DataSource, tmp_path: Path) -> None:
    # Given a names file in HELM's format (here a tiny one) the perturbation reads it instead.
    names = "anna,first_name,race,a,gender,female\nbea,first_name,race,b,gender,female\n"
    (tmp_path / "names.txt").write_text(names)
    from evaluator.hashing import sha256_hex

    local = Resources(DataSource(tmp_path), {"names.txt": sha256_hex(names)})
    spec = person_name(prob=1.0, source_class="race=a", target_class="race=b")
    spec = PerturbationSpec(spec.name, (*spec.args, ("name_file", "names.txt")))
    assert _apply(local, spec, "Then Anna left.") == ("Then Bea left.", [])
    assert describe_perturbation(spec, {})["differs_from_helm"] is None


def test_mild_mix_is_helms_composition(resources: Resources) -> None:
    # HELM's MildMixPerturbation.perturb: lowercase, contraction, misspellings (0.1), space (3),
    # one generator seeded by the instance id, input only.
    text = "She is not sure. It is a BIG day, and they are already late for the occasion!"
    references = ("They are late", "It is fine")
    perturbed, refs = _apply(resources, mild_mix(), text, references, instance_id="id13")
    assert refs == list(references)

    rng = random.Random("id13")
    steps = [
        PerturbationSpec("lowercase"),
        PerturbationSpec("contraction"),
        PerturbationSpec("misspellings", (("prob", 0.1),)),
        PerturbationSpec("space", (("max_spaces", 3),)),
    ]
    expected = text
    for step in steps:
        perturbation = create_perturbation(step, resources)
        assert isinstance(perturbation, TextPerturbation)
        expected = perturbation.perturb(expected, rng)
    assert perturbed == expected
    # Pinned (two misspellings drawn at p=0.1 for this id): HELM's code on HELM's byte-identical
    # misspelling list gives this text.
    assert perturbed == (
        "she's  nto   sure.  it's   a   big day, and  they're   already  late  for   ther"
        "   occasion!"
    )


def test_mild_mix_golden_by_hand(resources: Resources) -> None:
    # Derived without the perturbation code: lowercase and contract by hand; no word of this
    # text is in the misspelling list; then each run of spaces takes rng.randint(1, 3) in order.
    text = "It Is A Day"
    perturbed, _ = _apply(resources, mild_mix(), text, instance_id="id7")
    rng = random.Random("id7")
    words = ["it's", "a", "day"]  # "it is " -> "it's "
    expected = words[0]
    for word in words[1:]:
        expected += " " * rng.randint(1, 3) + word
    assert perturbed == expected


def test_seeding_follows_the_instance_id(resources: Resources) -> None:
    spec = PerturbationSpec("space", (("max_spaces", 3),))
    text = "a b c d e f g h i j k l m n o p"
    outputs = {_apply(resources, spec, text, instance_id=f"id{i}")[0] for i in range(8)}
    assert len(outputs) > 1  # the id decides the draws...
    assert _apply(resources, spec, text, instance_id="id3") == _apply(  # ...and only the id
        resources, spec, text, instance_id="id3"
    )
    # HELM's extra seeds prefix the id: Random(str(seed) + id).
    perturbation = create_perturbation(spec, resources)
    instance = Instance(input=text, references=(), split="test", id="id3")
    rng = random.Random("1id3")
    expected = re.sub(r" +", lambda _m: " " * rng.randint(1, 3), text)
    assert perturbation.apply(instance, seed=1).input == expected


def test_match_case_is_helms() -> None:
    assert match_case("dog", "CAT") == "cat"
    assert match_case("DOG", "cat") == "CAT"
    assert match_case("Dog", "cAT") == "Cat"
    # An apostrophe is neither lower nor upper: HELM then keeps the target as it is.
    assert match_case("don't", "Do Not") == "Do Not"


def test_augment_skips_unchanged_copies_and_keeps_order(resources: Resources) -> None:
    perturbations = [create_perturbation(spec, resources) for spec in canonical_perturbations()]
    changed = Instance(
        input="Is he sure this is the best day?",
        references=(Reference("Yes", ("correct",)), Reference("No")),
        split="test",
        id="id1",
    )
    untouched = Instance(input="2+2=?", references=(Reference("4"),), split="valid", id="id2")
    copies = augment([changed, untouched], perturbations)
    assert [(c.instance.id, c.perturbation.name) for c in copies] == [
        ("id1", "mild_mix"),
        ("id1", "dialect"),
        ("id1", "gender"),
    ]
    assert [c.perturbation.category for c in copies] == [ROBUSTNESS, FAIRNESS, FAIRNESS]
    gendered = copies[2].instance
    assert gendered.input == "Is she sure this is the best day?"
    assert gendered.references == changed.references  # tags kept, nothing to replace
    assert gendered.split == "test"


def test_descriptions_say_where_output_differs_from_helm() -> None:
    notes = {
        spec.name: describe_perturbation(spec, AUGMENTATION_PINS)["differs_from_helm"]
        for spec in canonical_perturbations()
    }
    assert notes["mild_mix"] is None and notes["gender"] is None
    assert "VALUE" in notes["dialect"] and "not HELM's" in notes["dialect"]
    assert "person_names.txt" in notes["person_name"]
    described = describe_perturbation(canonical_perturbations()[1], AUGMENTATION_PINS)
    assert described["files"] == {
        "augmentations/SAE_to_AAVE_mapping.json": AUGMENTATION_PINS[
            "augmentations/SAE_to_AAVE_mapping.json"
        ]
    }


def test_bad_arguments_are_refused(resources: Resources) -> None:
    with pytest.raises(ValueError, match="no dialect mapping"):
        create_perturbation(dialect(1.0, "SAE", "Klingon"), resources)
    with pytest.raises(ValueError, match="gender mode"):
        create_perturbation(gender("nouns", 1.0, "male", "female"), resources)
    with pytest.raises(ValueError, match="name class"):
        PersonNamePerturbation(prob=1.0, source_class="white", target_class="race=black_american")
    unpinned = Resources(resources.data, {})
    with pytest.raises(ValueError, match="without a sha256 pin"):
        create_perturbation(mild_mix(), unpinned)
