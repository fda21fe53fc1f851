"""Instance selection must pick exactly what HELM picks."""

from __future__ import annotations

import pytest

from evaluator.core import CORRECT_TAG, TRAIN_SPLIT, Instance, Reference
from evaluator.selection import (
    downsample_eval_instances,
    numpy_legacy_choice_indices,
    sample_examples,
)

# Recorded from numpy 2.x: np.random.seed(seed); np.random.choice(n, k, replace=False), which is
# what HELM's downsample_eval_instances runs.
NUMPY_CHOICES = [
    (111, 10, 0, [99, 10, 76, 2, 24, 102, 45, 7, 16, 90]),
    (108, 10, 0, [84, 10, 75, 2, 24, 100, 107, 7, 16, 86]),
    (5, 3, 0, [2, 0, 1]),
    (1000, 8, 7, [778, 334, 271, 802, 216, 408, 812, 94]),
]


@pytest.mark.parametrize(("population", "k", "seed", "expected"), NUMPY_CHOICES)
def test_choice_matches_recorded_numpy_draws(
    population: int, k: int, seed: int, expected: list[int]
) -> None:
    assert numpy_legacy_choice_indices(population, k, seed) == expected


@pytest.mark.parametrize(("population", "k", "seed"), [(14042, 1000, 0), (1531, 100, 3), (2, 1, 0)])
def test_choice_matches_numpy_when_installed(population: int, k: int, seed: int) -> None:
    np = pytest.importorskip("numpy")
    np.random.seed(seed)
    expected = [int(i) for i in np.random.choice(population, k, replace=False)]
    assert numpy_legacy_choice_indices(population, k, seed) == expected


def test_downsample_keeps_everything_when_not_more_than_asked() -> None:
    items = ["a", "b", "c"]
    assert downsample_eval_instances(items, 3, 0) == items
    assert downsample_eval_instances(items, None, 0) == items
    # np.random.seed(0); np.random.choice(3, 2, replace=False) -> [2, 1]
    assert downsample_eval_instances(items, 2, 0) == ["c", "b"]


def _labelled(text: str, label: str) -> Instance:
    return Instance(text, (Reference(label, (CORRECT_TAG,)),), TRAIN_SPLIT)


def test_sample_examples_matches_helm_golden() -> None:
    # HELM's test_multiple_choice_joint_adapter.test_sample_examples: the most common label comes
    # first, then labels alternate, each instance drawn at random within its label.
    train = [
        _labelled("say no", "no"),
        _labelled("say yes1", "yes"),
        _labelled("say yes2", "yes"),
        _labelled("say yes3", "yes"),
        _labelled("say yes4", "yes"),
    ]
    examples = sample_examples(train, max_train_instances=4, seed=0)
    assert [e.input for e in examples] == ["say yes4", "say no", "say yes1", "say yes3"]


def test_sample_examples_without_train_instances() -> None:
    assert sample_examples([], max_train_instances=2, seed=0) == []


def test_sample_examples_takes_all_when_fewer_than_max() -> None:
    train = [_labelled("say no", "no"), _labelled("say yes", "yes"), _labelled("say yes", "yes")]
    assert len(sample_examples(train, max_train_instances=10, seed=0)) == 3


def test_sample_examples_in_order_when_not_sampling() -> None:
    # HELM's sample_train=False: consecutive blocks of the train set, the seed picks the block.
    train = [_labelled(str(i), str(i)) for i in range(6)]
    assert [e.input for e in sample_examples(train, 2, seed=1, sample_train=False)] == ["2", "3"]


def test_sample_examples_uses_unlabelled_instances_when_labels_run_out() -> None:
    # HELM would loop forever here; we fall through to the unlabelled draw.
    train = [_labelled("one", "1"), Instance("free", (), TRAIN_SPLIT)]
    examples = sample_examples(train, max_train_instances=2, seed=0)
    assert sorted(e.input for e in examples) == ["free", "one"]
