"""Podium's evaluator: HELM-compatible scenarios, prompts and metrics, protocol clients for teams'
model servers, and a concurrent, cached, resumable runner.

    from evaluator import DataSource, Neurips2023Client, SqliteResponseCache, get_suite
    from evaluator import run_suite_sync

    client = Neurips2023Client("http://127.0.0.1:8080", timeout_s=120)
    asyncio.run(client.wait_ready(timeout_s=1200, poll_s=2))
    result = run_suite_sync(get_suite("smoke"), client, SqliteResponseCache("answers.sqlite"),
                            DataSource(scenario_root), cache_salt=image_digest)
    result.scores, result.overall, result.to_json()

Everything a caller needs is importable from here; submodules are implementation detail.
Imports nothing from app/ or workers/, and no ML framework.
"""

from evaluator.adapters import ADAPTERS, PreparedRequest, Prompt, register_adapter
from evaluator.cache import (
    MemoryResponseCache,
    ResponseCache,
    SqliteResponseCache,
    completion_key,
    tokenize_key,
)
from evaluator.clients import (
    PROTOCOLS,
    ModelClient,
    Neurips2023Client,
    OpenAICompletionsClient,
    create_client,
)
from evaluator.core import Instance, Reference, Request, RequestResult, Token
from evaluator.data import DataFetchError, DataSource, FileCheck, upstream_url
from evaluator.errors import (
    DataIntegrityError,
    DecodeUnsupported,
    DuplicateNameError,
    EvaluationError,
    EvaluatorError,
    ProtocolError,
    StartTimeout,
    SuiteNotFound,
    TransientError,
    UnknownNameError,
)
from evaluator.metrics import METRICS, RUN_METRICS, register_metric, register_run_metric
from evaluator.perturbations import (
    PERTURBATIONS,
    canonical_perturbations,
    register_perturbation,
    with_data_augmentation,
)
from evaluator.planning import RunPlan, plan_suite, prepare_request
from evaluator.results import Efficiency, InstanceResult, RunSpecScore, SuiteResult
from evaluator.runner import run_suite, run_suite_sync
from evaluator.scenarios import SCENARIOS, register_scenario
from evaluator.scoring import (
    Entry,
    RankedEntry,
    Ranking,
    Stage,
    StageScore,
    entry_from_result,
    rank_entries,
    rank_stages,
)
from evaluator.specs import AdapterSpec, PerturbationSpec, RunSpec
from evaluator.suites import (
    DATA_PINS,
    SUITES,
    Suite,
    bbq_run_spec,
    big_bench_hard_run_spec,
    get_suite,
    gsm_run_spec,
    list_suites,
    mmlu_run_spec,
    register_suite,
    scitldr_run_spec,
    truthful_qa_run_spec,
)
from evaluator.version import EVALUATOR_VERSION

__all__ = [
    "ADAPTERS",
    "DATA_PINS",
    "EVALUATOR_VERSION",
    "METRICS",
    "PERTURBATIONS",
    "PROTOCOLS",
    "RUN_METRICS",
    "SCENARIOS",
    "SUITES",
    "AdapterSpec",
    "DataFetchError",
    "DataIntegrityError",
    "DataSource",
    "DecodeUnsupported",
    "DuplicateNameError",
    "Efficiency",
    "Entry",
    "EvaluationError",
    "EvaluatorError",
    "FileCheck",
    "Instance",
    "InstanceResult",
    "MemoryResponseCache",
    "ModelClient",
    "Neurips2023Client",
    "OpenAICompletionsClient",
    "PreparedRequest",
    "PerturbationSpec",
    "Prompt",
    "ProtocolError",
    "RankedEntry",
    "Ranking",
    "Reference",
    "Request",
    "RequestResult",
    "ResponseCache",
    "RunPlan",
    "RunSpec",
    "RunSpecScore",
    "SqliteResponseCache",
    "Stage",
    "StageScore",
    "StartTimeout",
    "Suite",
    "SuiteNotFound",
    "SuiteResult",
    "Token",
    "TransientError",
    "UnknownNameError",
    "bbq_run_spec",
    "big_bench_hard_run_spec",
    "canonical_perturbations",
    "completion_key",
    "create_client",
    "entry_from_result",
    "get_suite",
    "gsm_run_spec",
    "list_suites",
    "mmlu_run_spec",
    "plan_suite",
    "prepare_request",
    "rank_entries",
    "rank_stages",
    "register_adapter",
    "register_metric",
    "register_perturbation",
    "register_run_metric",
    "register_scenario",
    "register_suite",
    "run_suite",
    "run_suite_sync",
    "scitldr_run_spec",
    "tokenize_key",
    "truthful_qa_run_spec",
    "upstream_url",
    "with_data_augmentation",
]
