"""Suites. Importing this package registers the built-in ones."""

from evaluator.suites import neurips2023_final_open as neurips2023_final_open
from evaluator.suites import neurips2023_open as neurips2023_open
from evaluator.suites import smoke as smoke
from evaluator.suites.base import SUITES, Suite, get_suite, list_suites, register_suite
from evaluator.suites.pins import DATA_PINS
from evaluator.suites.run_specs import (
    bbq_run_spec,
    big_bench_hard_run_spec,
    gsm_run_spec,
    mmlu_run_spec,
    scitldr_run_spec,
    truthful_qa_run_spec,
)

__all__ = [
    "DATA_PINS",
    "SUITES",
    "Suite",
    "bbq_run_spec",
    "big_bench_hard_run_spec",
    "get_suite",
    "gsm_run_spec",
    "list_suites",
    "mmlu_run_spec",
    "register_suite",
    "scitldr_run_spec",
    "truthful_qa_run_spec",
]
