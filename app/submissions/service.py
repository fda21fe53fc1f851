"""Submissions as teams and the API see them: upload, look-up, logs."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.competitions.quotas import check_quotas, lock_team_phase
from app.competitions.service import resolve_target
from app.config import Settings
from app.evaluations import counting
from app.kit.db import run_after_commit, utcnow
from app.kit.errors import BadRequest, NotFound
from app.queue import BUILD_TASK, TaskQueue, enqueue_after_commit
from app.submissions.archive import (
    ArchiveError,
    ExtractLimits,
    archive_kind,
    copy_single_file,
    extract_archive,
    safe_filename,
    unwrap_single_directory,
)
from app.submissions.dockerfile_policy import build_policy, check_context
from app.submissions.models import Evaluation, Submission
from app.submissions.repository import SubmissionRepository
from app.submissions.storage import Storage
from app.submissions.upload import ReceivedForm
from app.uploads.quota import SubmissionSpace, tree_bytes
from app.uploads.service import claim_completed, forget

UPLOAD_FIELDS = {"context", "weights"}


def _dockerfile_path(raw: str) -> str:
    raw = (raw or "Dockerfile").strip()
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BadRequest(
            f"dockerfile {raw!r} must be a relative path inside the build context, "
            "e.g. 'Dockerfile' or 'docker/Dockerfile.gpu'"
        )
    return str(path)


def _prepare_context(
    form: ReceivedForm, staging: Path, settings: Settings, dockerfile: str, space: SubmissionSpace
) -> Path:
    upload = form.files.get("context")
    if upload is None or upload.size == 0:
        raise BadRequest(
            "the form field `context` is missing or empty: attach the build context as a "
            ".tar, .tar.gz or .zip with a Dockerfile at its root (curl -F context=@ctx.tar.gz)"
        )
    limits = ExtractLimits(settings.max_context_bytes, settings.max_archive_files)
    extracted = staging / "context"
    extract_archive(
        upload.path, extracted, limits, what="context", min_free_bytes=space.min_free_bytes
    )
    space.add_context(extracted)
    root = unwrap_single_directory(extracted, dockerfile)
    if not (root / dockerfile).is_file():
        raise ArchiveError(
            f"context: no {dockerfile} found at the root of the archive; put the Dockerfile at "
            "the top level (tar czf ctx.tar.gz -C mydir .) or name it in the `dockerfile` field"
        )
    return root


def _prepare_weights(
    session: Session,
    form: ReceivedForm,
    staging: Path,
    settings: Settings,
    team_id: str,
    space: SubmissionSpace,
) -> tuple[Path, str] | None:
    """The weights, unpacked into staging: from the `weights` file of this request, or from a
    completed resumable upload named by `weights_upload` (forgotten once the row commits)."""
    upload = form.files.get("weights")
    upload_id = form.fields.get("weights_upload", "").strip()
    if upload is not None and upload_id:
        raise BadRequest("send either the `weights` file or `weights_upload`, not both")
    target = staging / "weights"
    limits = ExtractLimits(settings.max_weights_bytes, settings.max_archive_files)
    if upload_id:
        claimed = claim_completed(settings, team_id, upload_id)
        if archive_kind(claimed.path) is not None:
            extract_archive(
                claimed.path, target, limits, what="weights", min_free_bytes=space.min_free_bytes
            )
            space.add_weights(claimed.sha256, tree_bytes(target))
        else:
            space.add_weights(claimed.sha256, claimed.size)
            # Same filesystem: a rename, not a copy of many gigabytes.
            target.mkdir(parents=True)
            os.replace(claimed.path, target / safe_filename(claimed.filename))
        run_after_commit(session, lambda: forget(settings, upload_id))
        return target, claimed.sha256
    if upload is None:
        return None
    if upload.size == 0:
        raise BadRequest("the form field `weights` is empty; leave it out or attach a file")
    if archive_kind(upload.path) is not None:
        extract_archive(
            upload.path, target, limits, what="weights", min_free_bytes=space.min_free_bytes
        )
        space.add_weights(upload.sha256, tree_bytes(target))
    else:
        space.add_weights(upload.sha256, upload.size)
        copy_single_file(upload.path, target, upload.filename)
    return target, upload.sha256


def precheck(
    session: Session, team: Principal, now: datetime, query: dict[str, str | None]
) -> None:
    """Refuse early, before a large body is read, when the target phase is closed or the team's
    quota is spent. Only a hint: the binding check runs again, locked, in create_submission."""
    assert team.team_id is not None
    try:
        target = resolve_target(
            session, now, query.get("competition"), query.get("track"), query.get("phase")
        )
    except BadRequest:
        return  # the form fields may name what the query did not; decided after the upload
    if target.phase is not None:
        check_quotas(session, team.team_id, target.phase, now)


def create_submission(
    session: Session,
    settings: Settings,
    queue: TaskQueue,
    team: Principal,
    form: ReceivedForm,
    staging: Path,
    now: datetime | None = None,
) -> Submission:
    """Validate and store an upload received into `staging`, then queue its build.

    Anything wrong raises before a row or a published file exists; the caller removes staging.
    """
    assert team.team_id is not None
    now = now or utcnow()
    target = resolve_target(
        session,
        now,
        form.fields.get("competition") or None,
        form.fields.get("track") or None,
        form.fields.get("phase") or None,
    )
    storage = Storage(settings.data_dir)
    dockerfile = _dockerfile_path(form.fields.get("dockerfile", "Dockerfile"))
    weights_upload = form.fields.get("weights_upload", "").strip() or None
    space = SubmissionSpace(session, settings, team.team_id, weights_upload)
    context_root = _prepare_context(form, staging, settings, dockerfile, space)
    # Refused here, with the lines to fix, rather than as a failed build after the queue.
    check_context(
        context_root,
        dockerfile,
        build_policy(
            settings.default_base_images,
            settings.build_network,
            dict(target.phase.sandbox) if target.phase is not None else None,
        ),
    )

    if target.phase is not None:
        lock_team_phase(session, team.team_id, target.phase.id)
        check_quotas(session, team.team_id, target.phase, now)
    # Weights last: a refused submission leaves a resumable upload untouched for the next try.
    weights = _prepare_weights(session, form, staging, settings, team.team_id, space)
    weights_root, weights_sha = weights if weights else (None, None)
    submission = Submission(
        team_id=team.team_id,
        phase_id=target.phase.id if target.phase else None,
        track_id=target.track.id if target.track else None,
        name=form.fields.get("name", "").strip()[:200],
        description=form.fields.get("description", "").strip(),
        context_sha256=form.files["context"].sha256,
        dockerfile=dockerfile,
        weights_sha256=weights_sha,
        context_bytes=space.context_bytes,
        weights_bytes=space.weights_bytes,
    )
    SubmissionRepository(session).add(submission)
    storage.publish_context(context_root, submission.id)
    if weights_root is not None and weights_sha is not None:
        storage.publish_weights(weights_root, weights_sha)
    enqueue_after_commit(session, queue, BUILD_TASK, submission.id)
    return submission


def get_visible(session: Session, principal: Principal, submission_id: str) -> Submission:
    """The submission, if this caller may see it; otherwise 404 (never reveal it exists)."""
    return visible(principal, SubmissionRepository(session).summary(submission_id), submission_id)


class _OfATeam(Protocol):
    @property
    def team_id(self) -> str: ...


OfATeam = TypeVar("OfATeam", bound=_OfATeam)


def visible(principal: Principal, submission: OfATeam | None, submission_id: str) -> OfATeam:
    """`submission` (looked up as `submission_id`) if this caller may see it; otherwise 404,
    the same answer as for one that does not exist."""
    if submission is None or (
        not principal.can_read_everything
        and (principal.team_id is None or submission.team_id != principal.team_id)
    ):
        raise NotFound(f"no submission {submission_id} visible to you")
    return submission


def list_visible(session: Session, principal: Principal) -> list[Submission]:
    repo = SubmissionRepository(session)
    if principal.can_read_everything:
        return list(repo.all_newest_first())
    if principal.team_id is None:
        return []  # e.g. a worker token: it sees no submissions
    return list(repo.for_team(principal.team_id))


def latest_evaluation(session: Session, submission_id: str) -> Evaluation | None:
    return counting.current(session, submission_id)
