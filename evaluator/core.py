"""Core data of the pipeline: instances, requests and results.

All frozen, so a pipeline stage can never change what an earlier stage produced; they mirror HELM's
`Instance`, `Reference`, `Request` and `RequestResult` closely enough that a reader of HELM's source
recognises them, flattened where HELM wraps plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CORRECT_TAG = "correct"

TRAIN_SPLIT = "train"
VALID_SPLIT = "valid"
TEST_SPLIT = "test"
EVAL_SPLITS: tuple[str, ...] = (VALID_SPLIT, TEST_SPLIT)


@dataclass(frozen=True)
class Reference:
    """One candidate output of an instance (a multiple-choice option or a gold answer)."""

    # The output text, e.g. the text of option B.
    output: str
    # Tags, e.g. ("correct",) for a gold reference.
    tags: tuple[str, ...] = ()

    @property
    def is_correct(self) -> bool:
        return CORRECT_TAG in self.tags


@dataclass(frozen=True)
class Instance:
    """One example of a scenario: an input and its references."""

    # The input text, e.g. the question.
    input: str
    # Candidate outputs; the correct ones carry CORRECT_TAG.
    references: tuple[Reference, ...]
    # "train" (in-context examples), "valid" or "test".
    split: str
    # Stable id inside its scenario, "id<N>" numbered over all splits in load order as HELM does.
    id: str = ""

    @property
    def first_correct_reference(self) -> Reference | None:
        return next((r for r in self.references if r.is_correct), None)

    @property
    def all_correct_references(self) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.is_correct)


@dataclass(frozen=True)
class Request:
    """What is sent to the model, independent of the wire protocol."""

    # Full prompt text.
    prompt: str
    # 0 means greedy; protocols translate it (neurips2023 sends 1e-7, as HELM does).
    temperature: float = 1.0
    # Number of completions to sample.
    num_completions: int = 1
    # Maximum number of tokens to generate.
    max_tokens: int = 100
    # Nucleus sampling mass.
    top_p: float = 1.0
    # Whether the server should echo the prompt in its output.
    echo_prompt: bool = False
    # How many top alternatives per generated token to return.
    top_k_per_token: int = 1
    # Sequences at which generation stops.
    stop_sequences: tuple[str, ...] = ()
    # Sampling seed, sent only when set.
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "temperature": self.temperature,
            "num_completions": self.num_completions,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "echo_prompt": self.echo_prompt,
            "top_k_per_token": self.top_k_per_token,
            "stop_sequences": list(self.stop_sequences),
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Token:
    """One generated token as reported by the server."""

    # Token text.
    text: str
    # Its log probability, when the server reports one.
    logprob: float | None = None
    # Top alternatives (token text -> logprob), when the server reports them.
    top_logprobs: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestResult:
    """A successful completion, as returned by a protocol client or restored from the cache."""

    # Generated text exactly as the server returned it (stop sequences are applied later).
    text: str
    # Generated tokens; empty when the server does not report them.
    tokens: tuple[Token, ...] = ()
    # Total log probability of the completion, when reported.
    logprob: float | None = None
    # Server-reported processing time in seconds, when reported.
    request_time_s: float | None = None
    # Wall time of the successful HTTP exchange, measured by the client.
    latency_s: float = 0.0
    # True when this result came from the response cache rather than the server.
    cached: bool = False

    def to_cache(self) -> dict[str, Any]:
        """JSON-serialisable form stored in a ResponseCache."""
        return {
            "text": self.text,
            "tokens": [
                {"text": t.text, "logprob": t.logprob, "top_logprobs": dict(t.top_logprobs)}
                for t in self.tokens
            ],
            "logprob": self.logprob,
            "request_time_s": self.request_time_s,
            "latency_s": self.latency_s,
        }

    @classmethod
    def from_cache(cls, value: Mapping[str, Any]) -> RequestResult:
        tokens = tuple(
            Token(
                text=t["text"], logprob=t.get("logprob"), top_logprobs=t.get("top_logprobs") or {}
            )
            for t in value.get("tokens", [])
        )
        return cls(
            text=value["text"],
            tokens=tokens,
            logprob=value.get("logprob"),
            request_time_s=value.get("request_time_s"),
            latency_s=float(value.get("latency_s", 0.0)),
            cached=True,
        )
