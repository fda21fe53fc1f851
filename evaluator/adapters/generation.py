"""HELM's `generation` adapter: the model writes the answer after the output prefix.

<instructions>

<input_prefix><input><input_suffix><output_prefix><gold output><output_suffix>

... (in-context examples)

<input_prefix><input><input_suffix><output_prefix, right-stripped>
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluator.adapters.base import PreparedRequest, register_adapter
from evaluator.adapters.prompt import Prompt
from evaluator.core import Instance, Request
from evaluator.specs import ADAPT_GENERATION, AdapterSpec


@register_adapter(ADAPT_GENERATION)
class GenerationAdapter:
    template_version = "1"

    def __init__(self, spec: AdapterSpec) -> None:
        self.spec = spec
        # In-context example blocks, built once per run (every prompt repeats them).
        self._example_blocks: dict[Instance, str] = {}

    def output(self, instance: Instance) -> str:
        """HELM's construct_output: the first correct reference, all of them joined by ", " when
        multi_label, "n/a" when there is none."""
        correct = instance.all_correct_references
        if not correct:
            return "n/a"
        if self.spec.multi_label:
            return ", ".join(reference.output for reference in correct)
        return correct[0].output

    def example_block(self, instance: Instance, include_output: bool) -> str:
        spec = self.spec
        if include_output:
            block = self._example_blocks.get(instance)
            if block is None:
                block = spec.input_prefix + instance.input + spec.input_suffix
                block += spec.output_prefix + self.output(instance) + spec.output_suffix
                self._example_blocks[instance] = block
            return block
        return spec.input_prefix + instance.input + spec.input_suffix + spec.output_prefix.rstrip()

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
        request = Request(
            prompt=prompt.text,
            temperature=spec.temperature,
            num_completions=spec.num_outputs,
            max_tokens=spec.max_tokens,
            stop_sequences=spec.stop_sequences,
        )
        return PreparedRequest(instance=instance, prompt=prompt, request=request)
