"""The BIG-bench task parameters HELM's get_big_bench_spec reads from each task.json,
transcribed from the pinned files (a test checks every one against its file). Data only; the
prompts are quoted as they are, hence the long lines."""

# ruff: noqa: E501

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BigBenchTask:
    """What HELM's get_big_bench_spec reads from one task.json."""

    # The task's "metrics" list.
    metrics: tuple[str, ...]
    # "task_prefix" (the instructions), "" when absent.
    task_prefix: str
    # "example_input_prefix", HELM's default "Question: " when absent.
    input_prefix: str
    # "example_output_prefix", HELM's default "Answer: " when absent.
    output_prefix: str
    # "stop_string", None when absent.
    stop_string: str | None

    @property
    def multiple_choice(self) -> bool:
        return "multiple_choice_grade" in self.metrics


_Task = BigBenchTask

#: (task, subtask) -> its parameters; subtask "" for a task without subtasks.
BIG_BENCH_TASKS: dict[tuple[str, str], BigBenchTask] = {
    ("auto_debugging", ""): _Task(
        metrics=("exact_str_match",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\n",
        stop_string=None,
    ),
    ("code_line_description", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\nPython code:\n",
        output_prefix="\n\nEnglish language description:\n",
        stop_string=None,
    ),
    ("conceptual_combinations", "contradictions"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("conceptual_combinations", "emergent_properties"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("conceptual_combinations", "fanciful_fictional_combinations"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("conceptual_combinations", "homonyms"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("conceptual_combinations", "invented_words"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("conceptual_combinations", "surprising_uncommon_combinations"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("emoji_movie", ""): _Task(
        metrics=("multiple_choice_grade", "rouge", "bleu", "exact_str_match"),
        task_prefix="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("formal_fallacies_syllogisms_negation", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("known_unknowns", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("linguistics_puzzles", ""): _Task(
        metrics=("bleu", "rouge", "exact_str_match"),
        task_prefix="",
        input_prefix="",
        output_prefix="",
        stop_string=None,
    ),
    ("logic_grid_puzzle", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("logical_deduction", "five_objects"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="The following paragraphs each describe a set of five objects arranged in a fixed order. The statements are logically consistent within each paragraph.\n\n",
        input_prefix="",
        output_prefix=" ",
        stop_string=None,
    ),
    ("logical_deduction", "seven_objects"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="The following paragraphs each describe a set of seven objects arranged in a fixed order. The statements are logically consistent within each paragraph.\n\n",
        input_prefix="",
        output_prefix=" ",
        stop_string=None,
    ),
    ("logical_deduction", "three_objects"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="The following paragraphs each describe a set of three objects arranged in a fixed order. The statements are logically consistent within each paragraph.\n\n",
        input_prefix="",
        output_prefix=" ",
        stop_string=None,
    ),
    ("novel_concepts", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Let's do some find-the-common-concept problems. In these problems, your goal is to identify the underlying concept or theme that relates the things listed. Make sure to answer carefully.\n",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("operators", ""): _Task(
        metrics=("exact_str_match",),
        task_prefix="Given the definition of the op operator, compute the result.",
        input_prefix="\n",
        output_prefix=" = ",
        stop_string="\n",
    ),
    ("play_dialog_same_or_different", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nThe following transcripts of dialogues have been taken from Shakespeare plays, but the transcripts do not say who said what.  Your task is to identify whether the sentences in question were spoken by the same or different people.",
        input_prefix="\nDialogue:\n",
        output_prefix="\nAnswer: ",
        stop_string=None,
    ),
    ("repeat_copy_logic", ""): _Task(
        metrics=("exact_str_match",),
        task_prefix="repeat with logic:\n",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("strange_stories", "boolean"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Context: ",
        output_prefix="\nA: ",
        stop_string=None,
    ),
    ("strange_stories", "multiple_choice"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="",
        input_prefix="Context: ",
        output_prefix="\nA: ",
        stop_string=None,
    ),
    ("strategyqa", ""): _Task(
        metrics=("multiple_choice_grade", "rouge", "bleu"),
        task_prefix="",
        input_prefix="Question: ",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("symbol_interpretation", "adversarial"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nIn the SIT-adversarial world a structure is a sequence of six emojis.\nHereafter are reported the emojis used along with their descriptions.\n 🔺 is a red circle;\n 🟦 is a blue circle;\n 🔴 is a yellow circle;\n 🟥 is a red triangle pointing up;\n 🟨 is a red triangle pointing down;\n 🔻 is a red square;\n 🟡 is a blue square;\n _ is a yellow square;\n 🔵 is an empty space.\n\n",
        input_prefix="",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("symbol_interpretation", "emoji_agnostic"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nIn the SIT-emoji-agnostic world a structure is a sequence of six emojis.\nHereafter are reported the emojis used along with their descriptions.\n 🐮 is a red circle;\n 🐺 is a blue circle;\n 🦁 is a yellow circle;\n 🐷 is a red triangle pointing up;\n 🐯 is a red triangle pointing down;\n 🐱 is a red square;\n 🦝 is a blue square;\n 🐔 is a yellow square;\n 🦄 is an empty space.\n\n",
        input_prefix="",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("symbol_interpretation", "name_agnostic"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nIn the SIT-name-agnostic world a structure is a sequence of six emojis.\nHereafter are reported the emojis used along with their descriptions.\n 🔴 is a X D;\n 🔵 is a H D;\n 🟡 is a U D;\n 🔺 is a X Y G;\n 🔻 is a X Y A;\n 🟥 is a X B;\n 🟦 is a H B;\n 🟨 is a U B;\n _ is a T.\n\n",
        input_prefix="",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("symbol_interpretation", "plain"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nIn the SIT-plain world a structure is a sequence of six emojis.\nHereafter are reported the emojis used along with their descriptions.\n 🔴 is a red circle;\n 🔵 is a blue circle;\n 🟡 is a yellow circle;\n 🔺 is a red triangle pointing_up;\n 🔻 is a red triangle pointing_down;\n 🟥 is a red square;\n 🟦 is a blue square;\n 🟨 is a yellow square;\n _ is an empty_space.\n\n",
        input_prefix="",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("symbol_interpretation", "tricky"): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="\nIn the SIT-tricky world a structure is a sequence of six emojis.\nHereafter are reported the emojis used along with their descriptions.\n 🔴 is a der elcric;\n 🔵 is an eulb elcric;\n 🟡 is a wolley elcric;\n 🔺 is a der elgnairt gnitniop pu;\n 🔻 is a der elgnairt gnitniop nwod;\n 🟥 is a der erauqs;\n 🟦 is an eulb erauqs;\n 🟨 is a wolley erauqs;\n _ is a ytpme ecaps.\n\n",
        input_prefix="",
        output_prefix="Answer: ",
        stop_string=None,
    ),
    ("vitaminc_fact_verification", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="Based only on the information contained in a brief quote from Wikipedia, answer whether the related claim is True, False or Neither. Use Neither when the Wikipedia quote does not provide the necessary information to resolve the question.\n\n",
        input_prefix="\nPassage: ",
        output_prefix="\nTrue, False, or Neither? ",
        stop_string=None,
    ),
    ("winowhy", ""): _Task(
        metrics=("multiple_choice_grade",),
        task_prefix="Please answer the following questions about which words certain pronouns refer to.\n",
        input_prefix="\n",
        output_prefix="\nThe above reasoning is ",
        stop_string=None,
    ),
}
