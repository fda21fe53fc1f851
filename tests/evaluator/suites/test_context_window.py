"""A suite fitted to a smaller context window: its own hash, and fewer in-context examples."""

from __future__ import annotations

import pytest

from evaluator import DataSource, MemoryResponseCache, Neurips2023Client, get_suite, run_suite_sync
from evaluator.testing.fake_server import FakeModelServer, FakeServerConfig


def test_variant_has_its_own_hash_and_window() -> None:
    smoke = get_suite("smoke")
    small = smoke.with_context_window(512)
    assert small.content_hash != smoke.content_hash
    assert small.with_context_window(512).content_hash == small.content_hash
    assert {spec.context_window for spec in small.run_specs} == {512}
    assert {spec.context_window for spec in smoke.run_specs} == {2048}
    with pytest.raises(ValueError):
        smoke.with_context_window(0)


def test_prompts_are_fitted_to_the_smaller_window(data: DataSource) -> None:
    # One token per byte: 5-shot MMLU prompts are ~1-3 KB, so a 700-token window must drop
    # in-context examples (HELM drops them from the end) for most instances.
    config = FakeServerConfig(tokenizer="bytes")
    results = {}
    for window in (2048, 700):
        suite = get_suite("smoke").with_context_window(window)
        with FakeModelServer(config) as server:
            result = run_suite_sync(
                suite, Neurips2023Client(server.base_url), MemoryResponseCache(), data
            )
            longest = max(len(p.encode()) for p in server.stats.prompts)
        shots = [i.num_train_instances for i in result.instances]
        results[window] = (sum(shots) / len(shots), longest)
    assert results[700][0] < results[2048][0]
    assert results[700][1] <= 700 - 1  # prompt + 1 generated token fit the window
