"""Build -> run -> evaluate, top to bottom.

Each flow takes an id, reloads its rows, and is idempotent: a redelivered task (worker killed,
broker redelivery) either finds the work already done and returns, or redoes it safely; status
changes all go through `app.evaluations` (claim, heartbeat, finish, fail, requeue), which
owns the Evaluation's rules; these flows only orchestrate the build, the container and the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import evaluator
from app.competitions.models import Phase
from app.competitions.service import sandbox_overrides, suite_for
from app.config import Settings
from app.evaluations import builds
from app.evaluations import service as evaluations
from app.evaluations.failures import EvaluationFailed, failure_reason
from app.kit.db import session_scope
from app.scenario_data import scenario_source
from app.submissions.dockerfile_policy import (
    BuildPolicy,
    DockerfileRefused,
    build_policy,
    check_context,
)
from app.submissions.models import (
    FRESH_RERUN,
    Evaluation,
    FailureReason,
    Submission,
    SubmissionStatus,
)
from app.submissions.response_cache import DbResponseCache, cache_scope
from workers.artifacts import ArtifactUnavailable, ensure_context, ensure_weights
from workers.context import WorkerContext
from workers.heartbeat import Heartbeat, Ticker
from workers.sandbox.faults import HostSetupError, ImageDefect
from workers.sandbox.runtime import (
    BuildSpec,
    ContainerNotRunning,
    ContainerSpec,
    ImageNotFound,
    SandboxError,
)
from workers.transient import is_transient

log = logging.getLogger(__name__)

S = SubmissionStatus

__all__ = ["EvaluationFailed", "build_submission", "evaluate"]

WORKER_LABEL = "podium.worker"
EVALUATION_LABEL = "podium.evaluation"
#: Which Podium deployment (database) a container belongs to: the orphan sweep removes only its
#: own deployment's containers, never those of another deployment sharing the engine.
DEPLOYMENT_LABEL = "podium.deployment"


def deployment_id(settings: Settings) -> str:
    """A stable id of this deployment, the same in every API and worker process of it: a digest
    of its database URL (so the URL, password included, never appears on the engine)."""
    return hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]


def worker_id() -> str:
    """This worker process, as its containers' `podium.worker` label names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def effective_settings(settings: Settings, phase: Phase | None) -> Settings:
    """The worker's settings with the phase's sandbox limits applied."""
    if phase is None:
        return settings
    overrides = sandbox_overrides(dict(phase.sandbox))
    overrides["container_port"] = phase.port
    return settings.model_copy(update=overrides)


class EvaluationCancelled(Exception):
    """An admin cancelled the submission while it was being evaluated."""


def image_tag() -> str:
    """A fresh, unguessable tag for a build. Never derived from the public submission id: a
    Dockerfile that could name another team's image could build on it or copy out of it. Rows
    keep the image id; GC and clean-up find images by their `podium.submission` label."""
    return f"podium/submission:{secrets.token_hex(16)}"


# --------------------------------------------------------------------------------------- build


def build_submission(ctx: WorkerContext, submission_id: str) -> None:
    settings = ctx.settings
    with session_scope(settings.database_url) as session:
        submission = builds.claim_build(session, submission_id, settings.stale_after_s)
        if submission is None:
            return
        dockerfile = submission.dockerfile
        phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
        settings = effective_settings(settings, phase)
        suite_name = phase.suite_name if phase else settings.default_suite
        policy = build_policy(
            ctx.settings.default_base_images,
            ctx.settings.build_network,
            dict(phase.sandbox) if phase is not None else None,
        )

    def beat() -> None:
        with session_scope(settings.database_url) as session:
            builds.build_heartbeat(session, submission_id)

    with Ticker(f"the build of {submission_id}", settings.heartbeat_s, beat):
        _build(ctx, settings, submission_id, dockerfile, policy, suite_name)


def _build(
    ctx: WorkerContext,
    settings: Settings,
    submission_id: str,
    dockerfile: str,
    policy: BuildPolicy,
    suite_name: str,
) -> None:
    try:
        context_dir = ensure_context(settings, submission_id)
    except ArtifactUnavailable as exc:
        log.error("build of %s: %s", submission_id, exc)
        _fail(
            ctx,
            submission_id,
            FailureReason.internal_error,
            "Podium could not read the uploaded build context; the organizers have the "
            "details. This is not your submission's fault.",
        )
        return
    try:
        # Again here: the phase's allowed bases may have changed since the upload was checked.
        check_context(context_dir, dockerfile, policy)
    except DockerfileRefused as exc:
        _fail(ctx, submission_id, FailureReason.invalid_upload, exc.message)
        return
    result = ctx.runtime.build(
        BuildSpec(
            context_dir=context_dir,
            tag=image_tag(),
            dockerfile=dockerfile,
            labels={
                "podium.submission": submission_id,
                WORKER_LABEL: worker_id(),
                DEPLOYMENT_LABEL: deployment_id(settings),
            },
            network=settings.build_network,
            timeout_s=settings.build_timeout_s,
            memory_bytes=settings.build_memory_bytes,
            pids_limit=settings.build_pids_limit or None,
            nano_cpus=int(settings.build_cpus * 1_000_000_000),
            log_limit_bytes=settings.log_limit_bytes,
        )
    )

    with session_scope(settings.database_url) as session:
        submission = session.get(Submission, submission_id, with_for_update=True)
        if submission is None or submission.status is not S.building:
            return  # cancelled (or finished by a twin task) while we were building
        submission.build_log = result.log
        if not result.ok:
            if result.timed_out:
                reason = FailureReason.build_timeout
                message = (
                    f"the image build took longer than {settings.build_timeout_s:.0f}s and was "
                    "stopped; make the build faster (smaller base image, fewer steps)"
                )
            elif result.worker_fault:
                reason = FailureReason.internal_error
                message = result.error or "the build could not be run on this worker"
            else:
                reason = FailureReason.build_failed
                message = result.error or "docker build failed; see the build log"
            evaluations.fail(session, None, submission, reason, message, ctx.queue)
            return
        assert result.image_id is not None
        builds.built(session, submission, result.image_id, suite_name, ctx.queue)


# ------------------------------------------------------------------------------------ evaluate


@dataclass(frozen=True)
class _Job:
    evaluation_id: str
    submission_id: str
    image_id: str
    weights_sha256: str | None
    suite_name: str
    settings: Settings
    """The worker's settings with the submission's phase limits applied."""
    protocol: str
    cache_scope: str
    """Which stored responses this evaluation may reuse (see app.submissions.response_cache)."""
    suite: evaluator.Suite
    """The suite as the phase runs it (see app.competitions.service.suite_for)."""


def evaluate(ctx: WorkerContext, evaluation_id: str) -> None:
    # GPUs first, then the claim: an evaluation waiting for a free GPU stays `queued`, and says
    # it is waiting, so the reaper never mistakes the wait for a dead worker or a lost task.
    with _waiting_for_gpus(ctx, evaluation_id) as gpu_ids:
        job = _claim(ctx, evaluation_id)
        if job is None:
            return
        try:
            suite = job.suite
            with session_scope(ctx.settings.database_url) as session:
                evaluation = session.get(Evaluation, evaluation_id)
                assert evaluation is not None
                evaluation.suite_hash = suite.content_hash
                evaluation.evaluator_version = evaluator.EVALUATOR_VERSION
            result = _run_in_container(ctx, job, suite, gpu_ids)
        except EvaluationFailed as failure:
            _finish_failed(ctx, job, failure.reason, failure.message)
            return
        except EvaluationCancelled:
            log.info("evaluation %s stopped: cancelled by an admin", evaluation_id)
            _finish_failed(ctx, job, FailureReason.internal_error, "cancelled")  # -> cancelled
            return
        except Exception as exc:
            if is_transient(exc):
                # The database, broker or engine is away: the task is retried (workers/tasks.py),
                # and the retry or the reaper resumes the run once the heartbeat is stale. Failing
                # it would blame an outage on the team's score.
                raise
            log.exception("evaluation %s failed inside Podium", evaluation_id)
            _finish_failed(
                ctx,
                job,
                FailureReason.internal_error,
                f"Podium failed while evaluating ({type(exc).__name__}: {exc}); "
                "the organizers have the details. This is not your submission's fault.",
            )
            return
        _finish_scored(ctx, job, result)


@contextlib.contextmanager
def _waiting_for_gpus(ctx: WorkerContext, evaluation_id: str) -> Iterator[list[str]]:
    count = _gpus_needed(ctx, evaluation_id)

    def beat() -> None:
        with session_scope(ctx.settings.database_url) as session:
            evaluations.waiting(session, evaluation_id)

    with contextlib.ExitStack() as held:
        if count:
            beat()
        waiting = Ticker(
            f"evaluation {evaluation_id} (waiting for a GPU)", ctx.settings.heartbeat_s, beat
        )
        with waiting if count else contextlib.nullcontext():
            gpu_ids = held.enter_context(ctx.gpus.acquire(count=count))
        yield gpu_ids


def _gpus_needed(ctx: WorkerContext, evaluation_id: str) -> int:
    if not ctx.gpus.gpu_ids:
        return 0
    with session_scope(ctx.settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        submission = session.get(Submission, evaluation.submission_id) if evaluation else None
        if submission is None or submission.status is not S.evaluating:
            return 0  # nothing will run; the claim below says why
        phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
        return effective_settings(ctx.settings, phase).gpus_per_evaluation


def _claim(ctx: WorkerContext, evaluation_id: str) -> _Job | None:
    with session_scope(ctx.settings.database_url) as session:
        claimed = evaluations.claim(session, evaluation_id, ctx.settings.stale_after_s)
        if claimed is None:
            return None
        evaluation, submission = claimed
        phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
        try:
            suite = suite_for(evaluation.suite_name, phase)
        except evaluator.SuiteNotFound as exc:
            message = (
                f"suite {evaluation.suite_name!r} is not known to this worker ({exc}); the "
                "organizers must deploy it. This is not your submission's fault."
            )
            evaluations.fail(
                session, evaluation, submission, FailureReason.internal_error, message, ctx.queue
            )
            return None
        assert evaluation.image_id is not None
        return _Job(
            evaluation_id=evaluation.id,
            submission_id=submission.id,
            image_id=evaluation.image_id,
            weights_sha256=evaluation.weights_sha256,
            suite_name=evaluation.suite_name,
            settings=effective_settings(ctx.settings, phase),
            protocol=phase.protocol if phase else "neurips2023",
            suite=suite,
            cache_scope=cache_scope(
                evaluation.image_id,
                evaluation.weights_sha256,
                evaluation.id if evaluation.kind == FRESH_RERUN else "",
            ),
        )


def _run_in_container(ctx: WorkerContext, job: _Job, suite: Any, gpu_ids: list[str]) -> Any:
    settings = job.settings
    runtime = ctx.runtime
    try:
        weights_dir = ensure_weights(settings, job.weights_sha256) if job.weights_sha256 else None
    except ArtifactUnavailable as exc:
        log.error("evaluation %s: %s", job.evaluation_id, exc)
        raise EvaluationFailed(
            FailureReason.internal_error,
            "Podium could not read the uploaded weights; the organizers have the details. "
            "This is not your submission's fault.",
        ) from exc
    name = f"podium-eval-{job.evaluation_id}"
    runtime.remove(name)  # a container left by a killed worker for this same evaluation
    try:
        container_id = _start(ctx, job, settings, weights_dir, name, gpu_ids)
    except ImageNotFound as exc:
        _forget_image(ctx, job)
        raise EvaluationFailed(
            FailureReason.internal_error,
            "the image of this submission was removed to free disk space; an organizer's "
            "re-run rebuilds it. This is not your submission's fault.",
        ) from exc
    except ImageDefect as exc:
        # The engine refused the image itself: the team's defect, counted toward its quota.
        raise EvaluationFailed(FailureReason.crashed, f"the server could not start: {exc}") from exc
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, job.evaluation_id)
        assert evaluation is not None
        evaluation.gpu_ids = ",".join(gpu_ids)
    try:
        try:
            with runtime.endpoint(container_id, settings.container_port) as base_url:
                return asyncio.run(_drive(ctx, job, suite, base_url, container_id))
        except ContainerNotRunning as exc:
            raise _explain_stop(
                ctx, job, container_id, "the server exited before it answered"
            ) from exc
        except HostSetupError:
            raise  # this worker's own setup, not the container: internal_error (`evaluate`)
        except SandboxError as exc:
            raise _explain_stop(ctx, job, container_id, f"the container stopped ({exc})") from exc
    finally:
        try:
            _save_container_log(ctx, job, container_id)
        finally:
            runtime.remove(container_id)  # even when the log could not be saved


def _start(
    ctx: WorkerContext,
    job: _Job,
    settings: Settings,
    weights_dir: Path | None,
    name: str,
    gpu_ids: list[str],
) -> str:
    return ctx.runtime.start(
        ContainerSpec(
            image=job.image_id,
            name=name,
            labels={
                "podium.submission": job.submission_id,
                EVALUATION_LABEL: job.evaluation_id,
                WORKER_LABEL: worker_id(),
                DEPLOYMENT_LABEL: deployment_id(settings),
            },
            port=settings.container_port,
            weights_dir=weights_dir,
            memory_bytes=settings.container_memory_bytes,
            nano_cpus=int(_cpus(settings.container_cpus) * 1e9),
            pids_limit=settings.container_pids_limit,
            tmpfs_bytes=settings.container_tmpfs_bytes,
            gpus=gpu_ids,
            oci_runtime=settings.oci_runtime,
            log_max_bytes=max(settings.log_limit_bytes * 4, 10 * 1024 * 1024),
        )
    )


def _forget_image(ctx: WorkerContext, job: _Job) -> None:
    """The image is gone: clear it, so an admin re-run rebuilds instead of failing again."""
    with session_scope(ctx.settings.database_url) as session:
        submission = session.get(Submission, job.submission_id)
        if submission is not None and submission.image_id == job.image_id:
            submission.image_id = None


async def _drive(
    ctx: WorkerContext, job: _Job, suite: Any, base_url: str, container_id: str
) -> Any:
    client = evaluator.create_client(
        job.protocol, base_url, timeout_s=job.settings.request_timeout_s
    )
    try:
        return await _evaluate_server(ctx, job, suite, client, container_id)
    finally:
        await client.aclose()


async def _evaluate_server(
    ctx: WorkerContext, job: _Job, suite: Any, client: Any, container_id: str
) -> Any:
    settings = job.settings

    def alive() -> bool:
        return ctx.runtime.state(container_id).running

    def beat_while_starting() -> None:
        with session_scope(settings.database_url) as session:
            evaluations.starting(session, job.evaluation_id)

    try:
        # The start can take up to start_timeout_s (minutes for a large model): keep the
        # evaluation's heartbeat fresh meanwhile, or the reaper takes it for lost.
        with Ticker(
            f"evaluation {job.evaluation_id} (server starting)",
            settings.heartbeat_s,
            beat_while_starting,
        ):
            await client.wait_ready(timeout_s=settings.start_timeout_s, poll_s=1.0, is_alive=alive)
    except evaluator.StartTimeout as exc:
        _save_container_log(ctx, job, container_id, startup=True)  # no prompt was sent yet
        if not alive():
            raise _explain_stop(
                ctx, job, container_id, "the server exited before it answered"
            ) from exc
        probe = "GET /v1/models" if job.protocol == "openai" else "POST /tokenize"
        raise EvaluationFailed(
            FailureReason.start_timeout,
            f"the server did not answer {probe} on port {settings.container_port} within "
            f"{settings.start_timeout_s:.0f}s; check that it listens on 0.0.0.0:"
            f"{settings.container_port} and loads faster (see the container log)",
        ) from exc
    # Ready, and no prompt sent yet: all a team may see of the log while its phase has hidden
    # scenarios (app/submissions/views.py), as what the server prints later may quote them.
    _save_container_log(ctx, job, container_id, startup=True)

    cache = DbResponseCache(settings.database_url, job.cache_scope)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def stop_sending() -> None:
        if task is not None:
            loop.call_soon_threadsafe(task.cancel)

    def stop_now() -> None:
        # Called from the heartbeat thread when an admin cancels: kill the container (frees its
        # GPU at once) and stop sending requests.
        ctx.runtime.remove(container_id)
        stop_sending()

    def still_running() -> bool:
        try:
            return alive()
        except SandboxError:
            return False

    heartbeat = Heartbeat(
        settings.database_url,
        job.evaluation_id,
        settings.heartbeat_s,
        on_cancel=stop_now,
        alive=still_running,
        on_dead=stop_sending,
    )
    with heartbeat as beat:
        try:
            return await evaluator.run_suite(
                suite,
                client,
                cache,
                scenario_source(settings),
                concurrency=settings.eval_concurrency,
                progress=beat.progress,
                request_timeout_s=settings.request_timeout_s,
                total_budget_s=settings.eval_timeout_s,
            )
        except asyncio.CancelledError as exc:
            if heartbeat.cancelled:
                raise EvaluationCancelled() from exc
            if heartbeat.dead:
                raise _explain_stop(
                    ctx, job, container_id, "the server stopped during evaluation"
                ) from exc
            raise
        except (evaluator.ProtocolError, evaluator.EvaluationError) as exc:
            if heartbeat.cancelled:
                raise EvaluationCancelled() from exc
            if not alive():
                raise _explain_stop(
                    ctx, job, container_id, "the server stopped during evaluation"
                ) from exc
            reason = failure_reason(exc)
            if reason is FailureReason.eval_timeout:
                raise EvaluationFailed(
                    reason,
                    f"the evaluation did not finish within {settings.eval_timeout_s:.0f}s: {exc}",
                ) from exc
            raise EvaluationFailed(reason, str(exc)) from exc


def _cpus(wanted: float) -> float:
    # The engine refuses a CPU limit above the host's count; a small test host still evaluates.
    available = float(os.cpu_count() or 1)
    if wanted > available:
        log.warning(
            "container_cpus=%s exceeds this host's %s CPUs; using %s", wanted, available, available
        )
        return available
    return wanted


def _explain_stop(ctx: WorkerContext, job: _Job, container_id: str, what: str) -> EvaluationFailed:
    try:
        state = ctx.runtime.state(container_id)
    except SandboxError:
        return EvaluationFailed(FailureReason.crashed, f"{what}; the container is gone")
    if state.oom_killed:
        limit_gib = job.settings.container_memory_bytes / 1024**3
        return EvaluationFailed(
            FailureReason.oom,
            f"{what}: it ran out of memory (limit {limit_gib:.1f} GiB) and was killed; "
            "use a smaller model, quantize, or lower batch sizes",
        )
    detail = f" with exit code {state.exit_code}" if state.exit_code is not None else ""
    extra = f" ({state.error})" if state.error else ""
    return EvaluationFailed(
        FailureReason.crashed,
        f"{what}{detail}{extra}; the container log shows its last output",
    )


def _save_container_log(
    ctx: WorkerContext, job: _Job, container_id: str, *, startup: bool = False
) -> None:
    """Store the container's log (size-capped); `startup` also stores it as the start-up log."""
    try:
        text = ctx.runtime.logs(container_id, ctx.settings.log_limit_bytes)
    except SandboxError:
        return
    with session_scope(ctx.settings.database_url) as session:
        evaluation = session.get(Evaluation, job.evaluation_id)
        if evaluation is not None:
            evaluation.container_log = text
            if startup:
                evaluation.startup_log = text


def _finish_scored(ctx: WorkerContext, job: _Job, result: Any) -> None:
    with session_scope(ctx.settings.database_url) as session:
        evaluations.finish(session, job.evaluation_id, result, ctx.queue)


def _finish_failed(ctx: WorkerContext, job: _Job, reason: FailureReason, message: str) -> None:
    with session_scope(ctx.settings.database_url) as session:
        evaluations.fail_by_id(session, job.evaluation_id, reason, message, ctx.queue)


def _fail(ctx: WorkerContext, submission_id: str, reason: FailureReason, message: str) -> None:
    with session_scope(ctx.settings.database_url) as session:
        submission = session.get(Submission, submission_id, with_for_update=True)
        if submission is not None:
            evaluations.fail(session, None, submission, reason, message, ctx.queue)
