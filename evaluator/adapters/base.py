"""Adapter interface and registry: instances -> prompts -> requests.

An adapter is registered under its HELM method name with `@register_adapter("...")` on a class
constructed from an AdapterSpec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evaluator.adapters.prompt import Prompt
from evaluator.core import Instance, Request
from evaluator.registry import Registry
from evaluator.specs import AdapterSpec


@dataclass(frozen=True)
class PreparedRequest:
    """The request for one evaluation instance, with what scoring needs to read its answer."""

    # The instance being evaluated.
    instance: Instance
    # Prompt after window fitting.
    prompt: Prompt
    # The request to send.
    request: Request
    # Maps a stripped prediction to the reference text it stands for (e.g. "B" -> "Paris");
    # empty when predictions are compared as they are.
    output_mapping: Mapping[str, str] = field(default_factory=dict)


class Adapter(Protocol):
    """Builds prompts and requests for one run spec."""

    # Bump when the prompt text or request produced for the same spec and instance changes.
    @property
    def template_version(self) -> str: ...

    def build_prompt(self, train_instances: Sequence[Instance], instance: Instance) -> Prompt:
        """The full prompt before window fitting."""
        ...

    def make_request(self, instance: Instance, prompt: Prompt) -> PreparedRequest:
        """The request for a fitted prompt."""
        ...


# An adapter class, called with the run spec's AdapterSpec.
AdapterFactory = Callable[[AdapterSpec], Adapter]


ADAPTERS: Registry[AdapterFactory] = Registry("adapter")
register_adapter = ADAPTERS.register
