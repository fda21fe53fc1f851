"""Suites: pinned, named lists of run specs, and their registry.

Two evaluations are comparable exactly when their suites' `content_hash` match: the hash covers
every run spec field (prompt format, decoding, instance selection seed and count, context window,
metrics, perturbations), every data file's sha256 (perturbation word lists included), and the
versions of the loader, prompt template, metrics and perturbation code that interpret them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from evaluator.adapters import ADAPTERS
from evaluator.errors import SuiteNotFound
from evaluator.hashing import content_hash
from evaluator.metrics import METRICS, METRICS_VERSION, RUN_METRICS
from evaluator.perturbations import PERTURBATIONS, perturbation_code_pins, perturbation_files
from evaluator.registry import Registry
from evaluator.scenarios import SCENARIOS
from evaluator.specs import RunSpec


@dataclass(frozen=True)
class Suite:
    """A pinned set of run specs evaluated and scored together."""

    # Registry name, e.g. "smoke".
    name: str
    # One line for organizers and teams.
    description: str
    # The run specs, in evaluation order; names are unique.
    run_specs: tuple[RunSpec, ...]
    # Revision of the suite definition; bump on any deliberate change.
    version: str = "1"
    # sha256 of the file the suite was built from (a HELM conf), "" for suites written in code.
    source_sha256: str = ""

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.run_specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"suite {self.name!r} has duplicate run spec names: {duplicates}")
        for spec in self.run_specs:
            # Fail at definition time, not after an hour of requests.
            SCENARIOS.get(spec.scenario)
            ADAPTERS.get(spec.adapter.method)
            for metric in spec.metrics:
                if metric not in RUN_METRICS:
                    METRICS.get(metric)
            if spec.main_metric not in spec.metrics:
                raise ValueError(f"{spec.name}: main metric {spec.main_metric!r} is not computed")
            if spec.main_metric in RUN_METRICS:
                raise ValueError(f"{spec.name}: main metric {spec.main_metric!r} is run-level")
            for perturbation in spec.perturbations:
                PERTURBATIONS.get(perturbation.name)
            pinned = dict(spec.data_files)
            unpinned = [f for f in perturbation_files(spec.perturbations) if f not in pinned]
            if unpinned:
                raise ValueError(f"{spec.name}: perturbation resources without a pin: {unpinned}")

    def with_context_window(self, tokens: int) -> Suite:
        """This suite for servers with a `tokens`-token context window: every run spec fits its
        prompts to it (dropping in-context examples first, as HELM does). The window is part of
        each run spec, so the variant has its own content hash."""
        if tokens < 1:
            raise ValueError(f"a context window must be at least 1 token, got {tokens}")
        return replace(
            self, run_specs=tuple(replace(s, context_window=tokens) for s in self.run_specs)
        )

    @property
    def groups(self) -> tuple[str, ...]:
        """Scenario groups scored by this suite, in first-appearance order."""
        return tuple(dict.fromkeys(spec.group for spec in self.run_specs))

    @property
    def data_files(self) -> dict[str, str]:
        """Every pinned data file (relative path -> sha256)."""
        return {path: sha for spec in self.run_specs for path, sha in spec.data_files}

    def pin(self) -> dict[str, Any]:
        """Everything that decides what is sent and how it is scored, as plain JSON data."""
        return {
            "suite": self.name,
            "version": self.version,
            "metrics_version": METRICS_VERSION,
            # Only for suites built from a file, so the others keep their hash.
            **({"source_sha256": self.source_sha256} if self.source_sha256 else {}),
            "run_specs": [
                {
                    **spec.to_dict(),
                    "scenario_version": SCENARIOS.get(spec.scenario)(
                        **spec.scenario_kwargs
                    ).version,
                    "template_version": ADAPTERS.get(spec.adapter.method)(
                        spec.adapter
                    ).template_version,
                    # Only with perturbations, so suites without any keep their hash.
                    **(
                        {"perturbation_code": perturbation_code_pins(spec.perturbations)}
                        if spec.perturbations
                        else {}
                    ),
                }
                for spec in self.run_specs
            ],
        }

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of `pin()`."""
        return content_hash(self.pin())


SUITES: Registry[Callable[[], Suite]] = Registry("suite", not_found=SuiteNotFound)
register_suite = SUITES.register


def get_suite(name: str) -> Suite:
    """The registered suite `name`; SuiteNotFound (with close-name suggestions) otherwise."""
    suite = SUITES.get(name)()
    if suite.name != name:
        raise ValueError(f"suite registered as {name!r} calls itself {suite.name!r}")
    return suite


def list_suites() -> list[str]:
    return SUITES.names()
