"""Scenario interface and registry.

A scenario turns pinned data files into instances. It is registered by name with
`@register_scenario("name")` on a class whose constructor takes the run spec's scenario arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from evaluator.core import Instance
from evaluator.data import DataSource
from evaluator.registry import Registry


class Scenario(Protocol):
    """Loads the instances of one scenario configuration (e.g. one MMLU subject)."""

    # Loader version: bump when the instances produced from the same files change.
    @property
    def version(self) -> str: ...

    def files(self) -> list[str]:
        """Data files (relative to the data root) this configuration reads."""
        ...

    def load(self, data: DataSource, pins: Mapping[str, str]) -> list[Instance]:
        """All instances (train and eval splits) in HELM's order, with HELM-style ids."""
        ...


# A scenario class, called with the run spec's scenario arguments.
ScenarioFactory = Callable[..., Scenario]

SCENARIOS: Registry[ScenarioFactory] = Registry("scenario")
register_scenario = SCENARIOS.register


def with_instance_ids(instances: list[Instance]) -> list[Instance]:
    """HELM's `with_instance_ids`: "id0", "id1", ... over all splits in load order."""
    # Built field by field: `dataclasses.replace` costs ten times as much, and a BIG-bench task
    # has tens of thousands of instances.
    return [
        Instance(instance.input, instance.references, instance.split, f"id{i}")
        for i, instance in enumerate(instances)
    ]
