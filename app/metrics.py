"""`/metrics` in Prometheus' text format: queues, work per status, evaluation durations, model
traffic, workers and their GPUs, and the API's own latency per route.

Everything but the API latency is read when Prometheus scrapes, from what the system already
stores: the broker's queues, one GROUP BY per table, the evaluations' timestamps and progress,
the workers' beats (app/presence.py). Nothing is counted in one worker's memory, so the figures
are the same whichever API instance is scraped, and survive restarts.

Labels never name a team or a submission (no ids either): the figures are about the system, a
scrape config may ship them to a monitoring stack that participants see, and per-id series
would grow without bound. Worker labels are Celery node names (`celery@host`).

Access: an organizer or admin bearer token, or `PODIUM_METRICS_TOKEN`, a token that opens this
route alone. Queue depth and failure counts of a running competition are not public, and the
token Prometheus keeps in its config should not be one that also reads hidden scores; it is
also checked without the database, so scrapes go on (and show the outage) while it is down.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import health, presence
from app.config import Settings
from app.kit.db import session_scope, utcnow
from app.kit.deps import lookup_token
from app.kit.routing import api_router
from app.submissions.models import (
    RESCORE,
    Evaluation,
    EvaluationStatus,
    Submission,
    SubmissionStatus,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PATH = "/metrics"
EVALUATION_BUCKETS_S = (60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)
REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"
"""The route label of requests no route matched (scanners, typos): one series for all."""


def api_latency_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "podium_http_request_duration_seconds",
        "Time the API took to answer, per route template (not per URL), method and status class.",
        ["method", "route", "status"],
        buckets=REQUEST_BUCKETS_S,
        registry=registry,
    )


class LatencyMiddleware:
    """Times every HTTP request until its last body byte is sent; labels it with the route
    template that matched (`/api/v1/submissions/{submission_id}`), so ids never become labels."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.histogram.labels(scope["method"], template, f"{status // 100}xx").observe(
                time.perf_counter() - began
            )


class SystemCollector(Collector):
    """Reads the system's state on each scrape; a part that cannot be read (database or broker
    down) is left out and reported by `podium_up`, the rest is still served."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "podium_up", "1 when this part could be read for this scrape.", labels=["component"]
        )
        for component, part in (
            ("broker", self._broker),
            ("database", self._database),
            ("workers", self._workers),
        ):
            try:
                yield from list(part())
                up.add_metric([component], 1)
            except Exception as exc:
                log.warning("metrics: could not read the %s: %s", component, exc)
                up.add_metric([component], 0)
        yield up

    def _broker(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "podium_queue_depth", "Tasks waiting in the broker per queue.", labels=["queue"]
        )
        for queue, count in health.queue_depths(self.settings).items():
            depth.add_metric([queue], count)
        return [depth]

    def _database(self) -> Iterable[Metric]:
        now = utcnow()
        with session_scope(self.settings.database_url) as session:
            submissions = dict(
                session.execute(
                    select(Submission.status, func.count()).group_by(Submission.status)
                ).all()
            )
            evaluations = dict(
                session.execute(
                    select(Evaluation.status, func.count()).group_by(Evaluation.status)
                ).all()
            )
            durations = session.execute(
                select(Evaluation.started_at, Evaluation.finished_at).where(
                    Evaluation.status == EvaluationStatus.done,
                    Evaluation.started_at.is_not(None),
                    Evaluation.finished_at.is_not(None),
                )
            ).all()
            requests_done = session.scalar(
                select(func.coalesce(func.sum(Evaluation.progress_done), 0)).where(
                    Evaluation.kind != RESCORE
                )
            )
            running = session.execute(
                select(
                    Evaluation.progress_done, Evaluation.started_at, Evaluation.heartbeat_at
                ).where(Evaluation.status == EvaluationStatus.running)
            ).all()

        by_submission = GaugeMetricFamily(
            "podium_submissions", "Submissions per status.", labels=["status"]
        )
        for sub_status in SubmissionStatus:
            by_submission.add_metric([sub_status.value], submissions.get(sub_status, 0))
        by_evaluation = GaugeMetricFamily(
            "podium_evaluations", "Evaluations per status.", labels=["status"]
        )
        for eval_status in EvaluationStatus:
            by_evaluation.add_metric([eval_status.value], evaluations.get(eval_status, 0))

        seconds = [(end - start).total_seconds() for start, end in durations if start and end]
        duration = HistogramMetricFamily(
            "podium_evaluation_duration_seconds",
            "Wall time of the finished (done) evaluations, from start to finish.",
        )
        duration.add_metric([], _buckets(seconds, EVALUATION_BUCKETS_S), sum_value=sum(seconds))

        requests = CounterMetricFamily(
            "podium_model_requests",
            "Requests answered by model servers (or by stored responses of a resumed run), over "
            "every evaluation but rescores; rate() of it is the requests per second.",
        )
        requests.add_metric([], float(requests_done or 0))
        rate = GaugeMetricFamily(
            "podium_model_requests_per_second",
            "Requests per second of the running evaluations since each started, summed.",
        )
        rate.add_metric(
            [],
            sum(
                done / max((now - started).total_seconds(), 1.0)
                for done, started, _ in running
                if started is not None
            ),
        )
        ages = [(now - beat).total_seconds() for _, _, beat in running if beat is not None]
        oldest = GaugeMetricFamily(
            "podium_running_evaluation_heartbeat_age_seconds",
            "Age of the oldest heartbeat among running evaluations (0 with none running).",
        )
        oldest.add_metric([], max(ages, default=0.0))
        return [by_submission, by_evaluation, duration, requests, rate, oldest]

    def _workers(self) -> Iterable[Metric]:
        now = time.time()
        beats = presence.beats(self.settings)
        age = GaugeMetricFamily(
            "podium_worker_heartbeat_age_seconds",
            "Seconds since each worker's last beat (workers lost lately included).",
            labels=["worker"],
        )
        alive = GaugeMetricFamily(
            "podium_workers_alive", "Workers that beat within the stale limit."
        )
        gpus = GaugeMetricFamily(
            "podium_worker_gpus", "GPUs each live worker hands out.", labels=["worker"]
        )
        leases = GaugeMetricFamily(
            "podium_gpu_leases",
            "GPUs of each live worker held by a running evaluation.",
            labels=["worker"],
        )
        engine = GaugeMetricFamily(
            "podium_worker_engine_up",
            "1 when the worker's Docker engine answered its last check.",
            labels=["worker"],
        )
        images = GaugeMetricFamily(
            "podium_worker_image_bytes",
            "Disk the submission images take on each worker's engine (budget: "
            "podium_image_disk_budget_bytes).",
            labels=["worker"],
        )
        live = [beat for beat in beats if beat.alive(self.settings, now)]
        for beat in beats:
            age.add_metric([beat.name], beat.age_s(now))
        for beat in live:
            gpus.add_metric([beat.name], len(beat.gpus))
            leases.add_metric([beat.name], len(beat.gpus_leased))
            if beat.engine != "unknown":
                engine.add_metric([beat.name], 1 if beat.engine == "ok" else 0)
            if beat.images_bytes is not None:
                images.add_metric([beat.name], beat.images_bytes)
        alive.add_metric([], len(live))
        budget = GaugeMetricFamily(
            "podium_image_disk_budget_bytes", "PODIUM_IMAGE_DISK_BUDGET_BYTES, per engine."
        )
        budget.add_metric([], self.settings.image_disk_budget_bytes)
        return [age, alive, gpus, leases, engine, images, budget]


def _buckets(values: list[float], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    cumulative = [(str(bound), float(sum(1 for v in values if v <= bound))) for bound in bounds]
    return [*cumulative, ("+Inf", float(len(values)))]


def metrics_registry(settings: Settings) -> tuple[CollectorRegistry, Histogram]:
    """A registry per app (not the global one): tests and `podium up` build several apps in
    one process, and each must count only its own requests."""
    registry = CollectorRegistry(auto_describe=False)
    histogram = api_latency_histogram(registry)
    registry.register(SystemCollector(settings))
    return registry, histogram


def _allowed(request: Request, settings: Settings) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "/metrics needs 'Authorization: Bearer <token>': PODIUM_METRICS_TOKEN, or an "
            "organizer or admin token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if settings.metrics_token and hmac.compare_digest(
        token.encode(), settings.metrics_token.encode()
    ):
        return
    principal = lookup_token(settings.database_url, token)
    if principal is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    if not principal.can_read_everything:
        raise HTTPException(403, "/metrics is for organizers and admins (or PODIUM_METRICS_TOKEN)")


router = api_router(tags=["health"])


@router.get(PATH, response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    _allowed(request, settings)
    registry: Any = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
