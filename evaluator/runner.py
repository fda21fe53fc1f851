"""Running a suite against a model server: concurrent, cached, resumable, bounded in time.

Each evaluation instance is one unit of work: fit its prompt (tokenizer calls), send its completion
request, score the answer. `concurrency` workers take units in order, so at most that many
completion requests are in flight (plus at most as many tokenizer requests preparing the next
prompts). Every answer goes to the response cache the moment it arrives; a killed run
started again with the same cache sends only what is missing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from evaluator import loop_priority
from evaluator.adapters import PreparedRequest
from evaluator.cache import ResponseCache, completion_key
from evaluator.clients.base import ModelClient
from evaluator.core import Instance, RequestResult
from evaluator.data import DataSource
from evaluator.errors import EvaluationError, EvaluatorError, ProtocolError, TransientError
from evaluator.metrics import (
    prediction_text,
    run_metric_stats,
    score_instance,
    truncate_completion,
    warm_metrics,
)
from evaluator.perturbations import PerturbationDescription
from evaluator.planning import RunPlan, iter_plans, prepare_request
from evaluator.results import (
    InstanceResult,
    SuiteResult,
    efficiency,
    estimate_generated_tokens,
    score_groups,
    score_run_specs,
)
from evaluator.retry import RetryPolicy
from evaluator.suites import Suite
from evaluator.tokens import ServerTokenCounter
from evaluator.version import EVALUATOR_VERSION

ProgressFn = Callable[[int, int], None]


def _tagged(result: InstanceResult, perturbation: PerturbationDescription | None) -> InstanceResult:
    """`result` marked with the perturbation its instance went through (None: the original)."""
    if perturbation is None:
        return result
    return replace(
        result, perturbation=perturbation.name, perturbation_category=perturbation.category
    )


class _Stopped(Exception):
    """Raised inside a worker once the run is stopping, so it leaves without saving more."""


@dataclass
class _Progress:
    """Mutable bookkeeping of one run (owned by the event loop thread)."""

    total: int
    max_failure_fraction: float
    callback: ProgressFn | None
    done: int = 0
    errors: int = 0
    requests_sent: int = 0
    first_error: str | None = None
    error_kinds: Counter[str] = field(default_factory=Counter)
    stop_error: EvaluationError | None = None
    # Whether `total` is final: while later run specs are still being planned it only counts
    # the units planned so far, so the failure policy waits (it could not be certain yet).
    planned: bool = True

    def record(self, result: InstanceResult, kind: str | None) -> None:
        self.done += 1
        if result.error is not None:
            self.errors += 1
            self.error_kinds[kind or "error"] += 1
            if self.first_error is None:
                self.first_error = f"{result.run_spec} {result.instance_id}: {result.error}"
        if self.callback is not None:
            self.callback(self.done, self.total)
        # Stop as soon as the policy is certainly violated: the remaining requests cannot make
        # the result trustworthy, and a dead server would otherwise cost every retry of every one.
        # Workers finishing after that re-raise the same error, so the report does not depend on
        # which worker the event loop resumes first.
        self.check()
        if self.stop_error is not None:
            raise self.stop_error

    def check(self) -> None:
        """Decide to stop once the failure policy is certainly violated."""
        violated = self.errors > self.max_failure_fraction * self.total
        if self.stop_error is None and self.planned and violated:
            self.stop_error = self.failure()

    def failure(self) -> EvaluationError:
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.error_kinds.most_common())
        stopped = ""
        if self.done < self.total:
            stopped = f" (run stopped after {self.done} of {self.total} finished)"
        reason = (
            "protocol_error"
            if self.error_kinds["protocol error"] >= self.error_kinds["transient error"]
            else "server_unreachable"
        )
        return EvaluationError(
            f"{self.errors} of {self.total} requests failed{stopped}, more than the "
            f"{self.max_failure_fraction:.0%} allowed ({kinds}); first error: {self.first_error}",
            reason=reason,
        )


def _gold_label(mapping: dict[str, str] | None, instance: Instance) -> str | None:
    if not mapping:
        return None
    labels = [
        label
        for label, reference in zip(mapping, instance.references, strict=False)
        if reference.is_correct
    ]
    return ", ".join(labels) if labels else None


class _SuiteRun:
    """One execution of `run_suite`."""

    def __init__(
        self,
        client: ModelClient,
        cache: ResponseCache,
        *,
        salt: str,
        retry: RetryPolicy,
        request_timeout_s: float,
        progress: _Progress,
    ) -> None:
        self.client = client
        self.cache = cache
        self.salt = salt
        self.retry = retry
        self.request_timeout_s = request_timeout_s
        self.progress = progress
        self._counters: dict[int, ServerTokenCounter] = {}
        # Set as soon as any worker fails (a killed worker, a cancel from `progress`, the failure
        # policy): answers arriving afterwards are dropped rather than saved, as they would be if
        # the process had died, so a resumed run asks exactly for what was not saved.
        self.stopped = False

    def counter(self, window: int) -> ServerTokenCounter:
        if window not in self._counters:
            self._counters[window] = ServerTokenCounter(
                self.client,
                self.cache,
                max_length=window,
                salt=self.salt,
                retry=self.retry,
                timeout_s=self.request_timeout_s,
            )
        return self._counters[window]

    def _restore(self, key: str) -> RequestResult | None:
        value = self.cache.get(key)
        if value is None:
            return None
        try:
            return RequestResult.from_cache(value)
        except (KeyError, TypeError, ValueError):
            # An unreadable entry (hand-edited, older format) is a miss, not a failed evaluation.
            return None

    async def prepare(self, plan: RunPlan, instance: Instance) -> PreparedRequest | EvaluatorError:
        """The fitted request for `instance`, or the error that prevented it."""
        try:
            return await prepare_request(plan, instance, self.counter(plan.spec.context_window))
        except (ProtocolError, TransientError) as exc:
            return exc

    async def finish(
        self, plan: RunPlan, instance: Instance, prepared: PreparedRequest | EvaluatorError
    ) -> tuple[InstanceResult, str | None]:
        """Send (or restore) the completion and score it."""
        spec = plan.spec
        golds = tuple(reference.output for reference in instance.all_correct_references)
        if isinstance(prepared, EvaluatorError):
            return self._failed(plan, instance, golds, "", None, prepared)
        mapping = dict(prepared.output_mapping)
        key = completion_key(self.client.protocol, prepared.request, self.salt)
        result = self._restore(key)
        if result is None:
            request = prepared.request
            try:
                result = await self.retry.run(
                    lambda: self.client.complete(request, timeout_s=self.request_timeout_s)
                )
            except (ProtocolError, TransientError) as exc:
                return self._failed(plan, instance, golds, key, mapping, exc)
            if self.stopped:
                raise _Stopped
            self.progress.requests_sent += 1
            self.cache.put(key, result.to_cache())
        completion = truncate_completion(result, prepared.request)
        prediction = prediction_text(completion, prepared.output_mapping)
        metrics = score_instance(spec.metrics, golds, prediction)
        metrics.update(run_metric_stats(spec.metrics, instance, completion))
        return (
            InstanceResult(
                run_spec=spec.name,
                instance_id=instance.id,
                split=instance.split,
                request_key=key,
                completion=completion,
                prediction=prediction,
                golds=golds,
                gold_label=_gold_label(mapping, instance),
                metrics=metrics,
                correct=metrics.get(spec.main_metric, 0.0) == 1.0,
                error=None,
                num_train_instances=prepared.prompt.num_train_instances,
                prompt_truncated=prepared.prompt.truncated,
                latency_s=result.latency_s,
                generated_tokens=estimate_generated_tokens(completion, prepared.request.max_tokens),
                cached=result.cached,
            ),
            None,
        )

    @staticmethod
    def _failed(
        plan: RunPlan,
        instance: Instance,
        golds: tuple[str, ...],
        key: str,
        mapping: dict[str, str] | None,
        exc: EvaluatorError,
    ) -> tuple[InstanceResult, str]:
        kind = "protocol error" if isinstance(exc, ProtocolError) else "transient error"
        failed = InstanceResult(
            run_spec=plan.spec.name,
            instance_id=instance.id,
            split=instance.split,
            request_key=key,
            completion=None,
            prediction=None,
            golds=golds,
            gold_label=_gold_label(mapping, instance),
            metrics=score_instance(plan.spec.metrics, golds, None)
            | run_metric_stats(plan.spec.metrics, instance, None),
            correct=False,
            error=f"{type(exc).__name__}: {exc}",
            num_train_instances=0,
            prompt_truncated=False,
            latency_s=None,
            generated_tokens=0,
            cached=False,
        )
        return failed, kind


# Units planned before the first request: a suite smaller than this is planned whole first.
_START_UNITS = 256

_Unit = tuple[RunPlan, Instance, PerturbationDescription | None]


class _PlanFeed:
    """The suite's units (one per request), planned in a thread while the first are sent.

    Planning a large suite (parsing every data file, drawing, perturbing) takes seconds of CPU;
    doing it all before the first request left the server idle for that long. The thread plans
    run specs in suite order and hands each plan to the event loop, which appends its units in
    order: units, their indices and the request order are the same as when everything was
    planned up front. Every run spec's data pins are checked before the first plan, and every
    data file's sha256 before the thread starts, so a broken suite or data directory still fails
    before anything is sent.
    """

    def __init__(
        self, suite: Suite, data: DataSource, max_instances: int | None, state: _Progress
    ) -> None:
        self.items: list[_Unit] = []
        self.results: list[InstanceResult | None] = []
        self.done = False
        self._error: BaseException | None = None
        self._state = state
        state.planned = False
        self._next = 0
        self._plans = iter_plans(suite.run_specs, data, max_instances)
        self._count = len(suite.run_specs)
        self._metrics = {name for spec in suite.run_specs for name in spec.metrics}
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._plan, name="podium-planning", daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def close(self) -> None:
        """Stop planning (after the run spec in progress) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    def _plan(self) -> None:
        """Planning thread: each plan, then the end (or the error), posted to the loop."""
        with loop_priority.planning():
            try:
                units, warm = 0, True
                for number, plan in enumerate(self._plans, start=1):
                    if self._stop.is_set():
                        return
                    # The last plan and the end arrive together: no worker can take one of its
                    # units before the failure policy has seen the final total.
                    self._post(self._add, plan, number == self._count)
                    units += len(plan.eval_instances) + len(plan.perturbed)
                    if warm and (units >= _START_UNITS or number == self._count):
                        # Once the first requests can go out: beside them, not on the loop.
                        warm_metrics(self._metrics)
                        warm = False
            except BaseException as exc:
                self._post(self._fail, exc)
                return
        if self._count == 0:
            self._post(self._finish)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop is closed: the run is over and nobody waits for this plan.
            self._stop.set()

    def _add(self, plan: RunPlan, last: bool) -> None:
        units = [(plan, instance, p) for instance, p in plan.evaluation_items()]
        self.items.extend(units)
        self.results.extend([None] * len(units))
        self._state.total = len(self.items)
        if last:
            self._finish()
        else:
            self._wake()

    def _finish(self) -> None:
        self.done = True
        self._state.planned = True
        self._state.check()
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self.done = True
        self._wake()

    def _wake(self) -> None:
        # Wakes every waiter now; later waiters wait for the next change.
        self._changed.set()
        self._changed.clear()

    async def ready(self, units: int) -> None:
        """Wait until `units` units are planned or planning is over (its error, if any)."""
        while not self.done and len(self.items) < units:
            await self._changed.wait()
        if self._error is not None:
            raise self._error

    def take_nowait(self) -> int | None:
        """The next unit's index; None when none is planned yet (or none is left)."""
        if self._state.stop_error is not None:
            # Decided when planning finished: nothing more is sent.
            raise self._state.stop_error
        if self._next < len(self.items):
            index = self._next
            self._next += 1
            return index
        if self._error is not None:
            raise self._error
        return None

    async def take(self) -> int | None:
        """The next unit's index, waiting for planning if needed; None when none is left."""
        while True:
            index = self.take_nowait()
            if index is not None or self.done:
                return index
            await self._changed.wait()


async def run_suite(
    suite: Suite,
    client: ModelClient,
    cache: ResponseCache,
    data: DataSource,
    *,
    concurrency: int = 16,
    max_instances: int | None = None,
    progress: ProgressFn | None = None,
    request_timeout_s: float = 120.0,
    total_budget_s: float | None = None,
    max_retries: int = 3,
    retry_backoff_s: float = 0.5,
    max_failure_fraction: float = 0.5,
    cache_salt: str = "",
) -> SuiteResult:
    """Evaluate `suite` against the server behind `client`.

    - `max_instances` caps evaluation instances per run spec (quick checks; the result says so).
    - `progress(done, total)` is called at the start and after every instance; an exception it
      raises stops the run and propagates (answers so far stay cached), e.g. to cancel.
    - `request_timeout_s` bounds one HTTP exchange; `total_budget_s` the whole run
      (EvaluationError with reason "eval_timeout"; finished answers stay cached).
    - Transient failures are retried `max_retries` times with exponential backoff from
      `retry_backoff_s`; then the instance counts as wrong and as an error.
    - More than `max_failure_fraction` of failed instances raises EvaluationError.
    - `cache_salt` identifies the model (e.g. image digest + weights hash) in every cache key.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.perf_counter()
    data.verify(suite.data_files)
    state = _Progress(total=0, max_failure_fraction=max_failure_fraction, callback=progress)
    feed = _PlanFeed(suite, data, max_instances, state)
    run = _SuiteRun(
        client,
        cache,
        salt=cache_salt,
        retry=RetryPolicy(max_retries=max_retries, backoff_s=retry_backoff_s),
        request_timeout_s=request_timeout_s,
        progress=state,
    )
    with loop_priority.run():
        feed.start()
        try:
            return await _run_units(
                suite, feed, run, state, concurrency, total_budget_s, max_instances, started
            )
        finally:
            await feed.close()


async def _run_units(
    suite: Suite,
    feed: _PlanFeed,
    run: _SuiteRun,
    state: _Progress,
    concurrency: int,
    total_budget_s: float | None,
    max_instances: int | None,
    started: float,
) -> SuiteResult:
    # Requests start once the first units are planned; a small suite is planned whole before
    # (so its progress total is final from the first call, as it always was).
    await feed.ready(_START_UNITS)
    items, results = feed.items, feed.results
    if state.callback is not None:
        state.callback(0, state.total)

    async def worker() -> None:
        # Workers share one feed: taking a unit never yields to the loop, so no unit is taken
        # twice and units go out in suite order. Each worker prepares its next prompt (tokenizer
        # calls) while its current completion is in flight, so the server always has
        # `concurrency` completions to work on; when planning is behind, it sends the current
        # one first and waits for the next unit afterwards.
        index = await feed.take()
        if index is None:
            return
        preparing = asyncio.ensure_future(run.prepare(*items[index][:2]))
        try:
            while index is not None and not run.stopped:
                prepared = await preparing
                upcoming = feed.take_nowait()
                if upcoming is not None:
                    preparing = asyncio.ensure_future(run.prepare(*items[upcoming][:2]))
                plan, instance, perturbation = items[index]
                result, kind = await run.finish(plan, instance, prepared)
                result = _tagged(result, perturbation)
                results[index] = result
                state.record(result, kind)
                if upcoming is None:
                    upcoming = await feed.take()
                    if upcoming is not None:
                        preparing = asyncio.ensure_future(run.prepare(*items[upcoming][:2]))
                index = upcoming
        except _Stopped:
            return
        except BaseException:
            run.stopped = True
            raise
        finally:
            preparing.cancel()

    workers = concurrency if not feed.done else min(concurrency, len(items))
    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        if tasks:
            async with asyncio.timeout(total_budget_s):
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc
        # Planning may have finished after the last answer: the policy is decided on the total.
        state.check()
        if state.stop_error is not None:
            raise state.stop_error
    except TimeoutError:
        raise EvaluationError(
            f"the evaluation exceeded its total budget of {total_budget_s:g}s after "
            f"{state.done} of {state.total} instances; finished answers are cached, so a "
            "re-run resumes from there",
            reason="eval_timeout",
        ) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    instances = tuple(result for result in results if result is not None)
    per_run_spec = score_run_specs(suite.run_specs, instances)
    scores, overall = score_groups(per_run_spec)
    return SuiteResult(
        suite_name=suite.name,
        suite_hash=suite.content_hash,
        evaluator_version=EVALUATOR_VERSION,
        scores=scores,
        overall=overall,
        per_run_spec=per_run_spec,
        instances=instances,
        errors=state.errors,
        efficiency=efficiency(instances),
        requests_sent=state.requests_sent,
        wall_s=time.perf_counter() - started,
        max_instances=max_instances,
    )


def run_suite_sync(
    suite: Suite,
    client: ModelClient,
    cache: ResponseCache,
    data: DataSource,
    *,
    concurrency: int = 16,
    max_instances: int | None = None,
    progress: ProgressFn | None = None,
    request_timeout_s: float = 120.0,
    total_budget_s: float | None = None,
    max_retries: int = 3,
    retry_backoff_s: float = 0.5,
    max_failure_fraction: float = 0.5,
    cache_salt: str = "",
) -> SuiteResult:
    """`run_suite` for synchronous callers (Celery tasks): runs it in a fresh event loop and
    closes the client's connections of that loop afterwards (the client stays usable)."""

    async def main() -> SuiteResult:
        try:
            return await run_suite(
                suite,
                client,
                cache,
                data,
                concurrency=concurrency,
                max_instances=max_instances,
                progress=progress,
                request_timeout_s=request_timeout_s,
                total_budget_s=total_budget_s,
                max_retries=max_retries,
                retry_backoff_s=retry_backoff_s,
                max_failure_fraction=max_failure_fraction,
                cache_salt=cache_salt,
            )
        finally:
            aclose = getattr(client, "aclose", None)
            if aclose is not None:
                await aclose()

    return asyncio.run(main())
