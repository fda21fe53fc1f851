"""Golden prompts: byte for byte what HELM's multiple_choice_joint adapter produces."""

from __future__ import annotations

from evaluator import DataSource, get_suite
from evaluator.adapters.multiple_choice_joint import MultipleChoiceJointAdapter, reference_prefix
from evaluator.core import CORRECT_TAG, TEST_SPLIT, TRAIN_SPLIT, Instance, Reference
from evaluator.planning import plan_suite
from evaluator.selection import sample_examples
from evaluator.specs import ADAPT_MULTIPLE_CHOICE_JOINT, AdapterSpec


def _instance(
    text: str, options: list[str], correct: set[int], split: str = TRAIN_SPLIT
) -> Instance:
    refs = tuple(
        Reference(option, (CORRECT_TAG,) if i in correct else ())
        for i, option in enumerate(options)
    )
    return Instance(text, refs, split)


def _prompt(spec: AdapterSpec, train: list[Instance], evaluated: Instance) -> str:
    examples = sample_examples(train, spec.max_train_instances, 0, spec.sample_train)
    return MultipleChoiceJointAdapter(spec).build_prompt(examples, evaluated).text


def test_helm_unique_labels_golden() -> None:
    # HELM test_sample_examples_unique_labels (issue #2224): with default AdapterSpec prefixes
    # ("Input: ", "Output: "), blocks joined by "\n" and the evaluated block ending at "Output:".
    spec = AdapterSpec(method=ADAPT_MULTIPLE_CHOICE_JOINT, max_train_instances=3)
    train = [
        _instance("one", ["0", "1"], {0}),
        _instance("two", ["2", "3"], {0}),
        _instance("three", ["4", "5"], {0}),
        _instance("four", ["6", "7"], {1}),
        _instance("five", ["8", "9"], {1}),
    ]
    evaluated = _instance("eval", ["10", "11"], {1}, TEST_SPLIT)
    assert _prompt(spec, train, evaluated) == (
        "Input: three\nA. 4\nB. 5\nOutput: A\n\n"
        "Input: two\nA. 2\nB. 3\nOutput: A\n\n"
        "Input: one\nA. 0\nB. 1\nOutput: A\n\n"
        "Input: eval\nA. 10\nB. 11\nOutput:"
    )


def test_helm_multiple_correct_references_golden() -> None:
    # HELM test_multiple_correct_reference: without multi_label only the first correct label
    # is shown; sample_train=False keeps the train order.
    spec = AdapterSpec(
        method=ADAPT_MULTIPLE_CHOICE_JOINT, max_train_instances=10, sample_train=False
    )
    train = [
        _instance("Second reference is correct", ["First", "Second", "Third"], {1}),
        _instance("First and second references are correct", ["First", "Second", "Third"], {0, 1}),
    ]
    evaluated = _instance(
        "First reference is correct", ["First", "Second", "Third"], {0}, TEST_SPLIT
    )
    assert _prompt(spec, train, evaluated) == (
        "Input: Second reference is correct\nA. First\nB. Second\nC. Third\nOutput: B\n\n"
        "Input: First and second references are correct\nA. First\nB. Second\nC. Third\n"
        "Output: A\n\n"
        "Input: First reference is correct\nA. First\nB. Second\nC. Third\nOutput:"
    )


def test_helm_multi_label_golden() -> None:
    # HELM test_multiple_correct_reference_multi_label: all correct labels, joined by ", ".
    spec = AdapterSpec(
        method=ADAPT_MULTIPLE_CHOICE_JOINT,
        max_train_instances=10,
        sample_train=False,
        multi_label=True,
    )
    train = [_instance("Both", ["First", "Second", "Third"], {0, 1})]
    evaluated = _instance("Eval", ["First", "Second"], {0}, TEST_SPLIT)
    assert _prompt(spec, train, evaluated) == (
        "Input: Both\nA. First\nB. Second\nC. Third\nOutput: A, B\n\n"
        "Input: Eval\nA. First\nB. Second\nOutput:"
    )


def test_helm_numeric_reference_prefix_golden() -> None:
    # HELM test_reference_prefix: the first alphanumeric of the prefix is counted up.
    spec = AdapterSpec(
        method=ADAPT_MULTIPLE_CHOICE_JOINT,
        max_train_instances=10,
        sample_train=False,
        reference_prefix="  1: ",
    )
    train = [_instance("Third reference is correct", ["First", "Second", "Third"], {2})]
    evaluated = _instance(
        "First reference is correct", ["First", "Second", "Third"], {0}, TEST_SPLIT
    )
    assert _prompt(spec, train, evaluated) == (
        "Input: Third reference is correct\n  1: First\n  2: Second\n  3: Third\nOutput: 3\n\n"
        "Input: First reference is correct\n  1: First\n  2: Second\n  3: Third\nOutput:"
    )
    assert reference_prefix("\nA. ", 2) == "\nC. "


US_FOREIGN_POLICY_ID104 = (
    # HELM get_mmlu_spec: instructions + "\n" (format_instructions), then the "\n" instance prefix
    # makes a blank line; "Question: " / "Answer: " nouns; options "A. ".."D. ".
    "The following are multiple choice questions (with answers) about us foreign policy.\n"
    "\n"
    # In-context examples: dev rows in HELM's label-balanced draw with random.seed(0). All five
    # answer texts differ, so this is one seeded shuffle: dev rows 0, 3, 1, 2, 4.
    "Question: How did the 2008 financial crisis affect America's international reputation?\n"
    "A. It damaged support for the US model of political economy and capitalism\n"
    "B. It created anger at the United States for exaggerating the crisis\n"
    "C. It increased support for American global leadership under President Obama\n"
    "D. It reduced global use of the US dollar\n"
    "Answer: A\n"
    "\n"
    "Question: How do Defensive Realism and Offensive Realism differ in their explanation of "
    "state behaviour?\n"
    "A. Defensive realists place greater emphasis on the role of international institutions\n"
    "B. Defensive realists place less emphasis on geographical factors\n"
    "C. Offensive realists give more priority to the national interest than Defensive realists.\n"
    "D. Defensive realists believe states are security maximizers, while Offensive realists "
    "believe states to be power maximizers\n"
    "Answer: D\n"
    "\n"
    "Question: How did NSC-68 change U.S. strategy?\n"
    "A. It globalized containment.\n"
    "B. It militarized containment.\n"
    "C. It called for the development of the hydrogen bomb.\n"
    "D. All of the above\n"
    "Answer: D\n"
    "\n"
    "Question: The realm of policy decisions concerned primarily with relations between the "
    "United States and the rest of the world is known as\n"
    "A. terrorism policy.\n"
    "B. economic policy.\n"
    "C. foreign policy.\n"
    "D. international policy.\n"
    "Answer: C\n"
    "\n"
    "Question: How did Donald Trump attack globalization in the 2016 campaign?\n"
    "A. Globalization had made men like him too rich\n"
    "B. Globalization only benefited certain American states, such as New York\n"
    "C. Liberal elites had encouraged globalization, while 'ordinary Americans' lost jobs "
    "because of it\n"
    "D. Globalization encouraged damaging trade wars\n"
    "Answer: C\n"
    "\n"
    # The evaluated instance: HELM's numpy draw (seed 0) over valid+test picks index 99 of 111,
    # i.e. id104 (5 dev rows first). Its block ends at "Answer:" with no trailing space.
    "Question: How did the relationship between President and Congress develop under George "
    "H.W. Bush and Bill Clinton?\n"
    "A. Congress asserted its primacy in foreign policy\n"
    "B. US foreign policy became substantially decentralized\n"
    "C. The Presidency welcomed the influence of Congress\n"
    "D. None of the above\n"
    "Answer:"
)


def test_smoke_mmlu_prompt_is_helms(data: DataSource) -> None:
    plans = plan_suite(get_suite("smoke").run_specs, data)
    plan = next(p for p in plans if "us_foreign_policy" in p.spec.name)
    evaluated = plan.eval_instances[0]
    assert evaluated.id == "id104"
    prompt = plan.adapter.build_prompt(plan.train_examples, evaluated)
    assert prompt.text == US_FOREIGN_POLICY_ID104


def test_smoke_selection_is_helms_draw(data: DataSource) -> None:
    # HELM: valid (11 rows) + test (100 rows) after 5 dev rows; numpy seed 0 picks these indices
    # of the 111 eval instances: [99, 10, 76, 2, 24, 102, 45, 7, 16, 90] -> ids + 5.
    plans = plan_suite(get_suite("smoke").run_specs, data)
    plan = next(p for p in plans if "abstract_algebra" in p.spec.name)
    assert [i.id for i in plan.eval_instances] == [
        "id104",
        "id15",
        "id81",
        "id7",
        "id29",
        "id107",
        "id50",
        "id12",
        "id21",
        "id95",
    ]


def test_mmlu_request_is_helms(data: DataSource) -> None:
    plan = plan_suite(get_suite("smoke").run_specs, data)[0]
    evaluated = plan.eval_instances[0]
    prepared = plan.adapter.make_request(
        evaluated, plan.adapter.build_prompt(plan.train_examples, evaluated)
    )
    request = prepared.request
    # get_multiple_choice_adapter_spec: temperature 0, max_tokens 1, num_outputs 5 sent as
    # top_k_per_token; MultipleChoiceJointAdapter sends stop_sequences=[] (helm#1860).
    assert (request.temperature, request.max_tokens, request.top_k_per_token) == (0.0, 1, 5)
    assert (request.num_completions, request.stop_sequences, request.echo_prompt) == (1, (), False)
    assert list(prepared.output_mapping) == ["A", "B", "C", "D"]
    assert prepared.output_mapping["A"] == evaluated.references[0].output
