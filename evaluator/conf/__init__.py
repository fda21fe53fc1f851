"""HELM run-entry files (`*.conf`) as Podium suites: `suite_from_conf`, `parse_conf`."""

from evaluator.conf.parse import ConfEntry, ConfError, Description, parse_conf, parse_description
from evaluator.conf.suite import CONF_SCENARIOS, ConfSuite, suite_from_conf

__all__ = [
    "CONF_SCENARIOS",
    "ConfEntry",
    "ConfError",
    "ConfSuite",
    "Description",
    "parse_conf",
    "parse_description",
    "suite_from_conf",
]
