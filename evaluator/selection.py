"""Instance selection exactly as HELM does it.

- Evaluation instances: HELM's `downsample_eval_instances` draws `max_eval_instances` with
  `np.random.seed(0); np.random.choice(eval_instances, k, replace=False)`. We reproduce numpy's
  legacy RandomState bit for bit (MT19937 seeded by `init_genrand`, then a Fisher-Yates shuffle with
  masked rejection sampling, then the first k) without importing numpy, so a Podium smoke run
  evaluates the very instances `helm-run --max-eval-instances k` would.
- In-context examples: HELM's `InContextLearningAdapter.sample_examples`, label-balanced and
  seeded through Python's `random` (HELM seeds the global generator; we use a private generator
  in the same state).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import cycle
from typing import TypeVar

from evaluator.core import CORRECT_TAG, Instance

T = TypeVar("T")

_MT_N = 624


def _numpy_legacy_random(seed: int) -> random.Random:
    """A Python MT19937 in the state numpy's `RandomState(seed)` starts from.

    numpy seeds an integer with `init_genrand` (Python's `random.seed` uses `init_by_array`), so we
    compute that state and load it; both then emit the same 32-bit words.
    """
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError("seed must be between 0 and 2**32 - 1 (numpy's legacy range)")
    state = [seed]
    for i in range(1, _MT_N):
        prev = state[-1]
        state.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, (*state, _MT_N), None))
    return rng


def _random_interval(rng: random.Random, max_value: int) -> int:
    """numpy's legacy `random_interval`: uniform in [0, max_value] by masked rejection."""
    if max_value == 0:
        return 0
    mask = max_value
    for shift in (1, 2, 4, 8, 16, 32):
        mask |= mask >> shift
    bits = 32 if max_value <= 0xFFFFFFFF else 64
    while True:
        value = rng.getrandbits(bits) & mask
        if value <= max_value:
            return value


def numpy_legacy_choice_indices(population: int, k: int, seed: int) -> list[int]:
    """Indices `np.random.RandomState(seed).choice(population, k, replace=False)` returns."""
    if not 0 <= k <= population:
        raise ValueError(f"cannot choose {k} of {population} without replacement")
    return list(_choice_indices(population, k, seed))


@lru_cache(maxsize=256)
def _choice_indices(population: int, k: int, seed: int) -> tuple[int, ...]:
    # A pure function of its arguments, and a shuffle of the whole population in Python: the run
    # specs of one scenario at several shot counts draw the same indices, so they are kept.
    rng = _numpy_legacy_random(seed)
    order = list(range(population))
    for i in range(population - 1, 0, -1):
        j = _random_interval(rng, i)
        order[i], order[j] = order[j], order[i]
    return tuple(order[:k])


def downsample_eval_instances(
    items: Sequence[T], max_eval_instances: int | None, seed: int
) -> list[T]:
    """HELM's draw of evaluation instances (all of them when there are no more than asked)."""
    if max_eval_instances is None or len(items) <= max_eval_instances:
        return list(items)
    return [items[i] for i in numpy_legacy_choice_indices(len(items), max_eval_instances, seed)]


def sample_examples(
    train_instances: Sequence[Instance],
    max_train_instances: int,
    seed: int,
    sample_train: bool = True,
) -> list[Instance]:
    """HELM's `sample_examples`: the in-context examples shared by every instance of a run.

    Labels (first correct reference's text) are ordered by how many train instances carry them,
    ties broken by a seeded shuffle; then one instance per label is drawn in turn until enough.
    """
    to_sample = min(len(train_instances), max_train_instances)
    if not sample_train:
        return list(train_instances[to_sample * seed : to_sample * (seed + 1)])
    if to_sample == 0:
        # Zero-shot: nothing is drawn, and the generator is private, so skipping the draw's
        # bookkeeping over every train instance changes nothing.
        return []
    rng = random.Random(seed)

    unlabeled: list[Instance] = []
    by_label: dict[str, list[Instance]] = defaultdict(list)
    for instance in train_instances:
        # `first_correct_reference`, inlined: this loop runs over every train instance of every
        # run spec (tens of thousands for some BIG-bench tasks).
        for reference in instance.references:
            if CORRECT_TAG in reference.tags:
                by_label[reference.output].append(instance)
                break
        else:
            unlabeled.append(instance)

    labels_by_count: dict[int, list[str]] = defaultdict(list)
    for name, members in sorted(by_label.items()):
        labels_by_count[len(members)].append(name)
    ordered_labels: list[str] = []
    for count in sorted(labels_by_count, reverse=True):
        tied = labels_by_count[count]
        rng.shuffle(tied)
        ordered_labels.extend(tied)

    examples: list[Instance] = []
    labeled_left = sum(len(members) for members in by_label.values())
    labels = cycle(ordered_labels)
    # HELM loops forever once labelled instances run out before `to_sample` does (possible only
    # with unlabelled train instances); we fall through to the unlabelled draw instead.
    while to_sample > 0 and labeled_left > 0:
        label = next(labels, None)
        # HELM stops on a falsy label too, so an empty-string answer ends the draw; kept on purpose.
        if not label:
            break
        members = by_label[label]
        if not members:
            continue
        examples.append(members.pop(rng.randrange(len(members))))
        to_sample -= 1
        labeled_left -= 1
    examples += rng.sample(unlabeled, to_sample)
    return examples
