"""Scenarios: data files -> instances. Importing this package registers the built-in ones."""

from evaluator.scenarios import bbq as bbq
from evaluator.scenarios import big_bench as big_bench
from evaluator.scenarios import big_bench_hard as big_bench_hard
from evaluator.scenarios import gsm8k as gsm8k
from evaluator.scenarios import mmlu as mmlu
from evaluator.scenarios import scitldr as scitldr
from evaluator.scenarios import truthful_qa as truthful_qa
from evaluator.scenarios.base import SCENARIOS, Scenario, register_scenario, with_instance_ids

__all__ = ["SCENARIOS", "Scenario", "register_scenario", "with_instance_ids"]
