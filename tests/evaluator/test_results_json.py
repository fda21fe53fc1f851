"""`SuiteResult.to_json` writes each instance as `dataclasses.asdict` does, field for field and
type for type, without its generic recursion (it took 0.3 s for the 2023 open conf). Every field
of InstanceResult is set to a value of its declared type, so a new field asdict would copy
differently fails here."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from evaluator.results import InstanceResult, _instance_json


def _instance(n: int, **extra: Any) -> InstanceResult:
    fields: dict[str, Any] = {
        "run_spec": f"mmlu:subject=s{n % 7}",
        "instance_id": f"id{n}",
        "split": "test" if n % 3 else "valid",
        "request_key": "" if n % 11 == 0 else f"k{n}",
        "completion": None if n % 5 == 0 else f" {'ABCD'[n % 4]}",
        "prediction": None if n % 5 == 0 else "ABCD"[n % 4],
        "golds": tuple(f"gold {i}" for i in range(n % 3)),
        "gold_label": None if n % 2 else "B",
        "metrics": {"exact_match": float(n % 2), "quasi_exact_match": 0.5},
        "correct": bool(n % 2),
        "error": "timed out" if n % 5 == 0 else None,
        "num_train_instances": n % 6,
        "prompt_truncated": n % 13 == 0,
        "latency_s": None if n % 5 == 0 else n / 1000,
        "generated_tokens": n % 17,
        "cached": n % 4 == 0,
    }
    if n % 2:
        fields |= {"perturbation": "mild_mix", "perturbation_category": "robustness"}
    return InstanceResult(**(fields | extra))


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_each_instance_is_written_as_asdict_writes_it() -> None:
    assert {f.name for f in fields(InstanceResult)} == set(asdict(_instance(1)))
    instances = [_instance(n) for n in range(500)]
    for instance in instances:
        ours, theirs = _instance_json(instance), asdict(instance)
        assert _same(ours, theirs), (ours, theirs)
        # A copy, as asdict makes: changing the output leaves the result alone.
        assert ours["metrics"] is not instance.metrics
