"""Post-processing of completions before scoring: HELM's `truncate_sequence`.

Many real servers ignore stop sequences or `max_new_tokens`; HELM's clients then cut the output
themselves, and so does the evaluator, so a server's quirk does not change what is scored.
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluator.core import Request, RequestResult


def truncate_at_stop(text: str, stop_sequences: Sequence[str]) -> str:
    """Cut `text` at the earliest stop sequence.

    HELM cuts at each stop sequence in turn; every cut only shortens the text, so the result is
    the cut at the earliest occurrence of any of them.
    """
    for stop in stop_sequences:
        if stop:
            index = text.find(stop)
            if index >= 0:
                text = text[:index]
    return text


def truncate_completion(result: RequestResult, request: Request) -> str:
    """The completion text HELM would score for `request`.

    Cut at the request's stop sequences (tokens too, at the first token starting with one); then,
    if the server returned more tokens than `max_tokens`, keep the text of the first `max_tokens`
    tokens. Echoed prompts are left alone, as in HELM (their length in tokens is unknown).
    """
    if request.echo_prompt:
        return result.text
    text = result.text
    tokens = list(result.tokens)
    for stop in request.stop_sequences:
        if not stop:
            continue
        text = truncate_at_stop(text, (stop,))
        for index, token in enumerate(tokens):
            if token.text.startswith(stop):
                tokens = tokens[:index]
                break
    if len(tokens) > request.max_tokens:
        text = "".join(token.text for token in tokens[: request.max_tokens])
    return text
