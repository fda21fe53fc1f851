"""Which perturbed copies are sent: HELM 0.5.16's DataAugmenter skips a copy whose input is
unchanged, even when a perturbation changed its references (the answer options)."""

from __future__ import annotations

from random import Random

from evaluator.core import CORRECT_TAG, Instance, Reference
from evaluator.perturbations.base import TextPerturbation, augment


class _UpperWord(TextPerturbation):
    """Upper-cases one word, in the input and in the options."""

    name = "test_upper_word"
    category = "robustness"
    should_perturb_references = True

    def __init__(self, word: str) -> None:
        self.word = word

    def perturb(self, text: str, rng: Random) -> str:
        return text.replace(self.word, self.word.upper())


def _instance(question: str) -> Instance:
    return Instance(
        input=question,
        references=(Reference("the cat", (CORRECT_TAG,)), Reference("a dog")),
        split="test",
        id="id7",
    )


def test_only_options_changed_is_not_sent() -> None:
    # "cat" occurs only in an option: HELM 0.5.16 compares inputs only and skips the copy.
    assert augment([_instance("Which animal purrs?")], [_UpperWord("cat")]) == []


def test_input_changed_is_sent_with_its_perturbed_options() -> None:
    (copy,) = augment([_instance("Is the cat an animal?")], [_UpperWord("cat")])
    assert copy.instance.input == "Is the CAT an animal?"
    assert [r.output for r in copy.instance.references] == ["the CAT", "a dog"]
