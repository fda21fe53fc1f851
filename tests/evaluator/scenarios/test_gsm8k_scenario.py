from __future__ import annotations

from evaluator import DataSource
from evaluator.core import TEST_SPLIT, TRAIN_SPLIT
from evaluator.scenarios.gsm8k import GSM8KScenario, parse_gsm_jsonl
from evaluator.suites.pins import DATA_PINS


def test_answer_is_rewritten_as_helm_does() -> None:
    # HELM: "####" -> "The answer is", newlines -> spaces, then a final ".".
    line = b'{"question": "Q?", "answer": "2+2=<<2+2=4>>4\\nso 4\\n#### 4"}\n'
    (instance,) = parse_gsm_jsonl(line, TEST_SPLIT, "inline")
    assert instance.references[0].output == "2+2=<<2+2=4>>4 so 4 The answer is 4."
    assert instance.references[0].is_correct


def test_loads_train_then_test_with_helm_ids(data: DataSource) -> None:
    instances = GSM8KScenario().load(data, DATA_PINS)
    assert len(instances) == 7473 + 1319
    assert {i.split for i in instances[:7473]} == {TRAIN_SPLIT}
    first_test = instances[7473]
    assert (first_test.id, first_test.split) == ("id7473", TEST_SPLIT)
    assert first_test.input.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert first_test.references[0].output == (
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day. "
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer\u2019s market. The answer is 18."
    )
