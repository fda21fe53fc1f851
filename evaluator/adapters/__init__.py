"""Adapters: instances -> prompts -> requests. Importing this package registers the built-ins."""

from evaluator.adapters import generation as generation
from evaluator.adapters import multiple_choice_joint as multiple_choice_joint
from evaluator.adapters.base import ADAPTERS, Adapter, PreparedRequest, register_adapter
from evaluator.adapters.prompt import Prompt
from evaluator.adapters.window import TokenCounter, fit_prompt

__all__ = [
    "ADAPTERS",
    "Adapter",
    "PreparedRequest",
    "Prompt",
    "TokenCounter",
    "fit_prompt",
    "register_adapter",
]
