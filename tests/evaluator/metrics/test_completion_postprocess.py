"""HELM's truncate_sequence rules applied to what servers return."""

from __future__ import annotations

from evaluator.core import Request, RequestResult, Token
from evaluator.metrics import truncate_at_stop, truncate_completion


def test_cut_at_earliest_stop_sequence() -> None:
    assert truncate_at_stop("B\n\nQuestion: next", ["\n"]) == "B"
    assert truncate_at_stop("42 ### more\nmore", ["\n", "###"]) == "42 "
    assert truncate_at_stop("no stop here", ["\n"]) == "no stop here"


def _result(*pieces: str) -> RequestResult:
    return RequestResult(text="".join(pieces), tokens=tuple(Token(p) for p in pieces))


def test_server_ignoring_stop_sequences_is_cut_by_the_evaluator() -> None:
    request = Request(prompt="p", max_tokens=10, stop_sequences=("\n",))
    assert truncate_completion(_result(" 42", "\n", "Question:"), request) == " 42"


def test_server_ignoring_max_tokens_is_cut_to_max_tokens_tokens() -> None:
    request = Request(prompt="p", max_tokens=1)
    assert truncate_completion(_result(" B", "\n\n", "Question"), request) == " B"


def test_echoed_prompts_are_left_alone() -> None:
    request = Request(prompt="p", max_tokens=1, echo_prompt=True, stop_sequences=("\n",))
    assert truncate_completion(_result("p", " B", "\n"), request) == "p B\n"


def test_text_without_tokens_is_only_cut_at_stops() -> None:
    request = Request(prompt="p", max_tokens=1, stop_sequences=("\n",))
    assert truncate_completion(RequestResult(text=" B C\nD"), request) == " B C"
