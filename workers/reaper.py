"""The reaper: puts right work whose worker died or whose task got lost, and frees the disk and
the engine of what dead work left behind.

The rules for builds and evaluations are the Evaluation package's (`app.evaluations.recovery`:
every non-terminal state, told apart by heartbeats and by what the broker holds). This module
adds the engine side: build leftovers and old images under the disk budget, and containers whose
evaluation no longer runs on a live worker (labelled `podium.evaluation`), also swept when a
worker starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.competitions.models import Phase
from app.config import Settings
from app.evaluations import service as evaluations
from app.evaluations.recovery import KnownTasks, recover
from app.kit.db import session_scope, utcnow
from app.queue import TaskQueue
from app.submissions.models import Evaluation, EvaluationStatus
from workers.flows import DEPLOYMENT_LABEL, EVALUATION_LABEL, deployment_id, effective_settings
from workers.sandbox.runtime import ContainerRuntime, SandboxError

log = logging.getLogger(__name__)


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    builds_gave_up: list[str] = field(default_factory=list)
    removed_containers: list[str] = field(default_factory=list)
    pruned_images: list[str] = field(default_factory=list)
    reclaimed_build_leftovers: list[str] = field(default_factory=list)


IMAGE_LABEL = "podium.submission"
# Build leftovers younger than the longest build plus this may belong to a running build (the
# builder's cancel grace, a slow commit of a big layer, clock skew between worker and engine).
BUILD_LEFTOVER_MARGIN = timedelta(minutes=10)


def reap(
    settings: Settings,
    queue: TaskQueue,
    now: datetime | None = None,
    runtime: ContainerRuntime | None = None,
    known: KnownTasks | None = None,
) -> ReapReport:
    """`known`: the tasks waiting in the broker (workers/broker.py); None when unknown."""
    now = now or utcnow()
    report = ReapReport()
    if runtime is not None:
        # What builds left behind (untagged layers, step containers) goes once no build can
        # still be using it; then submission images beyond the disk budget go, oldest first
        # (never one in use), counting the leftovers still there. A re-run of a pruned
        # submission rebuilds it.
        report.reclaimed_build_leftovers = runtime.reclaim_build_leftovers(
            _longest_build_s(settings) + BUILD_LEFTOVER_MARGIN.total_seconds()
        )
        report.pruned_images = runtime.prune_images(IMAGE_LABEL, settings.image_disk_budget_bytes)

    def budget_for(phase: Phase | None) -> float:
        return effective_settings(settings, phase).eval_timeout_s

    with session_scope(settings.database_url) as session:
        recovered = recover(session, settings, queue, now, budget_for, known)
    report.requeued = recovered.requeued
    report.timed_out = recovered.timed_out
    report.gave_up = recovered.gave_up
    report.rebuilt = recovered.rebuilt
    report.builds_gave_up = recovered.builds_gave_up
    if runtime is not None:
        # After the requeues above, so a dead worker's container goes in this same pass.
        report.removed_containers = remove_orphan_containers(settings, runtime, now)
    if any(getattr(report, name) for name in report.__dataclass_fields__):
        log.info("reaper: %s", report)
    return report


def remove_orphan_containers(
    settings: Settings, runtime: ContainerRuntime, now: datetime | None = None
) -> list[str]:
    """Remove the containers of evaluations that no longer run on a live worker: finished,
    re-queued, gone, or running with a stale heartbeat (its worker died). Returns their ids."""
    # Listed before the rows are read: a container started after this list was made belongs
    # to a claim that is already `running` with a fresh heartbeat when the rows are read.
    mine = f"{DEPLOYMENT_LABEL}={deployment_id(settings)}"
    labelled = {
        container_id: labels
        for container_id, labels in runtime.labelled_containers(mine).items()
        if EVALUATION_LABEL in labels
    }
    if not labelled:
        return []
    ids = {labels.get(EVALUATION_LABEL, "") for labels in labelled.values()}
    with session_scope(settings.database_url) as session:
        rows = session.scalars(select(Evaluation).where(Evaluation.id.in_(ids))).all()
        live = {
            row.id
            for row in rows
            if row.status is EvaluationStatus.running
            and evaluations.is_alive(row, settings.stale_after_s, now)
        }
    removed: list[str] = []
    for container_id, labels in labelled.items():
        if labels.get(EVALUATION_LABEL) in live:
            continue
        try:
            runtime.remove(container_id)
        except SandboxError as exc:
            log.warning("could not remove orphan container %s: %s", container_id[:12], exc)
            continue
        removed.append(container_id)
    if removed:
        log.info("removed %d container(s) left by dead or finished evaluations", len(removed))
    return removed


def _longest_build_s(settings: Settings) -> float:
    """The longest any build may run, over the worker's default and every phase's override."""
    with session_scope(settings.database_url) as session:
        phases = session.scalars(select(Phase)).all()
        timeouts = [effective_settings(settings, phase).build_timeout_s for phase in phases]
    return max([settings.build_timeout_s, *timeouts])
