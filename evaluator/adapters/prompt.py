"""A prompt as HELM assembles it: blocks joined by the instance prefix, plus global affixes."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Prompt:
    """The parts of a prompt, kept apart so in-context examples can be dropped to fit a window."""

    # Instructions block (empty string: no block at all, as in HELM).
    instructions_block: str
    # One block per in-context example, in prompt order.
    train_instance_blocks: tuple[str, ...]
    # The evaluated instance's block (ends with the output prefix, right-stripped).
    eval_instance_block: str
    # Separator between blocks.
    instance_prefix: str = "\n"
    # Prepended to the whole text.
    global_prefix: str = ""
    # Appended to the whole text.
    global_suffix: str = ""
    # Set when even zero examples did not fit and the text was truncated from the right.
    truncated_text: str | None = None

    @property
    def text(self) -> str:
        if self.truncated_text is not None:
            return self.truncated_text
        blocks = (
            ([self.instructions_block] if self.instructions_block else [])
            + list(self.train_instance_blocks)
            + [self.eval_instance_block]
        )
        return f"{self.global_prefix}{self.instance_prefix.join(blocks)}{self.global_suffix}"

    @property
    def truncated(self) -> bool:
        return self.truncated_text is not None

    @property
    def num_train_instances(self) -> int:
        return len(self.train_instance_blocks)

    def without_last_example(self) -> Prompt:
        return replace(self, train_instance_blocks=self.train_instance_blocks[:-1])
