"""Protocol clients. Importing this package registers the built-in protocols."""

from evaluator.clients.base import PROTOCOLS, ModelClient, create_client, register_protocol
from evaluator.clients.limits import ResponseLimits
from evaluator.clients.neurips2023 import Neurips2023Client
from evaluator.clients.openai import OpenAICompletionsClient

__all__ = [
    "PROTOCOLS",
    "ModelClient",
    "Neurips2023Client",
    "OpenAICompletionsClient",
    "ResponseLimits",
    "create_client",
    "register_protocol",
]
