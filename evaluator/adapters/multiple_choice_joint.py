"""HELM's `multiple_choice_joint` adapter: all options in one prompt, the model answers a letter.

<instructions>

<input_prefix><question><input_suffix>
A. <option>
B. <option>
<output_prefix><letter><output_suffix>

... (in-context examples)

<input_prefix><question><input_suffix>
A. <option>
B. <option>
<output_prefix, right-stripped>
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluator.adapters.base import PreparedRequest, register_adapter
from evaluator.adapters.prompt import Prompt
from evaluator.core import Instance, Request
from evaluator.specs import ADAPT_MULTIPLE_CHOICE_JOINT, AdapterSpec


def prefix_char(prefix: str) -> str:
    """The label character of a reference prefix: its first alphanumeric ("A" in "A. ")."""
    return next(char for char in prefix if char.isalnum())


def reference_prefix(prefix: str, index: int) -> str:
    """The prefix of option `index`: "A. " -> "C. " for index 2 (every occurrence is shifted)."""
    char = prefix_char(prefix)
    return prefix.replace(char, chr(ord(char) + index))


@register_adapter(ADAPT_MULTIPLE_CHOICE_JOINT)
class MultipleChoiceJointAdapter:
    template_version = "1"

    def __init__(self, spec: AdapterSpec) -> None:
        self.spec = spec
        self._label = prefix_char(spec.reference_prefix)
        # Option prefixes and labels by index, and the blocks of in-context examples: every
        # prompt of a run repeats them, so they are built once.
        self._prefixes: list[str] = []
        self._labels: list[str] = []
        self._example_blocks: dict[Instance, str] = {}

    def _option(self, index: int) -> tuple[str, str]:
        while len(self._prefixes) <= index:
            self._prefixes.append(reference_prefix(self.spec.reference_prefix, len(self._prefixes)))
            self._labels.append(reference_prefix(self._label, len(self._labels)))
        return self._prefixes[index], self._labels[index]

    def example_block(self, instance: Instance, include_output: bool) -> str:
        if include_output:
            block = self._example_blocks.get(instance)
            if block is None:
                block = self._example_blocks[instance] = self._block(instance, True)
            return block
        return self._block(instance, False)

    def _block(self, instance: Instance, include_output: bool) -> str:
        spec = self.spec
        result = spec.input_prefix + instance.input + spec.input_suffix
        output = "n/a"  # HELM's text for an instance without a correct reference
        for index, reference in enumerate(instance.references):
            prefix, label = self._option(index)
            result += prefix + reference.output + spec.reference_suffix
            if reference.is_correct:
                if output == "n/a":
                    output = label
                elif spec.multi_label:
                    output += ", " + label
        if include_output:
            return result + spec.output_prefix + output + spec.output_suffix
        # The evaluated block ends at "Answer:" with no trailing space: the model supplies it.
        return result + spec.output_prefix.rstrip()

    def build_prompt(self, train_instances: Sequence[Instance], instance: Instance) -> Prompt:
        return Prompt(
            instructions_block=self.spec.instructions,
            train_instance_blocks=tuple(self.example_block(t, True) for t in train_instances),
            eval_instance_block=self.example_block(instance, False),
            instance_prefix=self.spec.instance_prefix,
            global_prefix=self.spec.global_prefix,
            global_suffix=self.spec.global_suffix,
        )

    def make_request(self, instance: Instance, prompt: Prompt) -> PreparedRequest:
        spec = self.spec
        mapping = {
            self._option(index)[1]: reference.output
            for index, reference in enumerate(instance.references)
        }
        request = Request(
            prompt=prompt.text,
            temperature=spec.temperature,
            num_completions=1,
            max_tokens=spec.max_tokens,
            top_k_per_token=spec.num_outputs,
            # HELM's MultipleChoiceJointAdapter sends no stop sequences even though the spec has
            # ["\n"] (stanford-crfm/helm#1860: max_tokens=1 makes them moot). The evaluator still
            # cuts the returned text at the spec's stop sequences, for servers ignoring max_tokens.
            stop_sequences=(),
        )
        return PreparedRequest(
            instance=instance, prompt=prompt, request=request, output_mapping=mapping
        )
