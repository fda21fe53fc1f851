from __future__ import annotations

import pytest

from evaluator.errors import DuplicateNameError, SuiteNotFound, UnknownNameError
from evaluator.registry import Registry
from evaluator.suites import get_suite, list_suites


def test_duplicate_registration_is_refused() -> None:
    registry: Registry[int] = Registry("widget")
    registry.register("mmlu")(1)
    with pytest.raises(DuplicateNameError, match="widget 'mmlu' is already registered"):
        registry.register("mmlu")(2)
    assert registry.get("mmlu") == 1


def test_unknown_name_suggests_close_names() -> None:
    registry: Registry[int] = Registry("scenario")
    for name in ("mmlu", "gsm8k", "truthful_qa"):
        registry.add(name, 0)
    with pytest.raises(UnknownNameError) as caught:
        registry.get("truthfulqa")
    assert caught.value.suggestions == ["truthful_qa"]
    assert "did you mean 'truthful_qa'?" in str(caught.value)
    assert "known: gsm8k, mmlu, truthful_qa" in str(caught.value)


def test_get_suite_unknown_name_raises_suite_not_found_with_suggestion() -> None:
    with pytest.raises(SuiteNotFound, match="unknown suite 'smoek'; did you mean 'smoke'"):
        get_suite("smoek")
    assert "smoke" in list_suites()
