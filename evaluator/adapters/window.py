"""Fitting a prompt into the model's context window, as HELM's InContextLearningAdapter does.

HELM first drops in-context examples one at a time from the end until prompt tokens plus
`max_tokens` fit the window; with no example left it truncates the text from the right (encode with
truncation, decode, then remove characters until it fits). Tokens are counted by the model server's
own tokenizer, through the `TokenCounter` given here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from evaluator.adapters.prompt import Prompt


class TokenCounter(Protocol):
    """The server's tokenizer, as the window fitting needs it."""

    async def num_tokens(self, text: str) -> int: ...

    async def truncate_tokens(self, text: str, max_length: int) -> str | None:
        """The decoded first `max_length` tokens of `text`, or None if the server cannot decode."""
        ...


async def fits(counter: TokenCounter, text: str, window: int, completion_tokens: int) -> bool:
    return await counter.num_tokens(text) + completion_tokens <= window


async def truncate_from_right(
    counter: TokenCounter, text: str, window: int, completion_tokens: int
) -> str:
    """Longest prefix of `text` that fits, found the way HELM finds it.

    HELM decodes the tokenizer's truncation, then removes one character at a time until it fits.
    Token counts grow with prefix length, so a binary search over the prefix length gives the same
    answer with log(n) tokenizer calls instead of up to n. Servers without /decode have no truncated
    decoding to start from, so the search then runs over the original text.
    """
    max_length = window - completion_tokens
    if max_length <= 0:
        return ""
    candidate = await counter.truncate_tokens(text, max_length)
    if candidate is None:
        candidate = text
    if await fits(counter, candidate, window, completion_tokens):
        return candidate
    low, high = 0, len(candidate) - 1  # invariant: candidate[:low] fits, candidate[:high+1] not
    while low < high:
        middle = (low + high + 1) // 2
        if await fits(counter, candidate[:middle], window, completion_tokens):
            low = middle
        else:
            high = middle - 1
    return candidate[:low]


async def fit_prompt(
    prompt: Prompt, counter: TokenCounter, window: int, completion_tokens: int
) -> Prompt:
    """`prompt` with the fewest in-context examples removed (then truncated) to fit `window`."""
    while prompt.num_train_instances > 0:
        if await fits(counter, prompt.text, window, completion_tokens):
            return prompt
        prompt = prompt.without_last_example()
    # With no example left HELM always round-trips through truncation, even for a prompt that
    # fits: a decoded text shorter than the original replaces it (zero-shot runs see this too).
    text = prompt.text
    truncated = await truncate_from_right(counter, text, window, completion_tokens)
    if len(truncated) < len(text):
        return replace(prompt, truncated_text=truncated)
    return prompt
