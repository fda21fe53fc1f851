"""Per-team storage quota: the bytes a team keeps on the server, and refusals past the quota.

What counts: the team's resumable uploads (an unfinished one at its declared size, since that is
what it will take) and what its submissions stored, their extracted build contexts and their
weights. Weights are content-addressed, so several submissions of a team with the same weights
count them once. The quota is the team's own limit, so going past it is a 413 that says how to
free space, unlike a full disk (507), which is the server's state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from app.config import Settings
from app.kit.errors import PayloadTooLarge
from app.uploads.disk import human_bytes, reserved_bytes
from app.uploads.repository import StoredBytesRepository
from app.uploads.store import UploadStore


class StorageQuotaExceeded(PayloadTooLarge):
    """The team's own storage quota would be passed."""


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files at or below `path` (links are not followed)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


@dataclass
class TeamUsage:
    """A team's stored bytes at one moment, and what it may still add."""

    quota: int
    uploads: int
    contexts: int
    weights: dict[str, int] = field(default_factory=dict)
    """sha256 -> bytes of the weights its submissions already stored."""

    @property
    def used(self) -> int:
        return self.uploads + self.contexts + sum(self.weights.values())

    @property
    def left(self) -> int:
        return max(self.quota - self.used, 0)

    def refuse_past_quota(self, adding: int, what: str) -> None:
        if self.used + adding <= self.quota:
            return
        raise StorageQuotaExceeded(
            f"{what} needs {human_bytes(adding)}, but your team's storage quota is "
            f"{human_bytes(self.quota)} and it already uses {human_bytes(self.used)} "
            f"(uploads {human_bytes(self.uploads)}, stored submissions "
            f"{human_bytes(self.contexts + sum(self.weights.values()))}). Free space by "
            "deleting uploads you no longer need (GET /api/v1/uploads lists them, DELETE "
            "/api/v1/uploads/<id> removes one), or ask the organizers to raise the quota "
            "(PODIUM_TEAM_STORAGE_QUOTA_BYTES) or remove old submissions"
        )


def upload_bytes(settings: Settings, team_id: str, *, exclude: str | None = None) -> int:
    store = UploadStore(settings)
    total = 0
    for upload_id in store.ids():
        meta = store.load(upload_id)
        if meta is not None and meta.team_id == team_id and meta.id != exclude:
            total += meta.size
    return total


def team_usage(
    session: Session, settings: Settings, team_id: str, *, exclude_upload: str | None = None
) -> TeamUsage:
    """The team's usage; `exclude_upload` is an upload about to become a submission's weights
    (counted as those weights instead, not twice)."""
    repo = StoredBytesRepository(session)
    return TeamUsage(
        quota=settings.team_storage_quota_bytes,
        uploads=upload_bytes(settings, team_id, exclude=exclude_upload),
        contexts=repo.context_bytes(team_id),
        weights=repo.weights_bytes(team_id),
    )


class SubmissionSpace:
    """The disk and quota policy for one submission being stored.

    Extraction may write into staging as long as the disk keeps `min_free_bytes` (the floor plus
    what unfinished uploads were promised): staging is temporary. What the submission keeps (its
    context and, unless the team already stores the same weights, its weights) must fit in the
    team's quota; each `add_*` raises StorageQuotaExceeded when it does not.
    """

    def __init__(
        self, session: Session, settings: Settings, team_id: str, weights_upload: str | None
    ) -> None:
        self.usage = team_usage(session, settings, team_id, exclude_upload=weights_upload)
        self.min_free_bytes = settings.disk_free_floor_bytes + reserved_bytes(settings)
        self.context_bytes = 0
        self.weights_bytes: int | None = None

    def add_context(self, root: Path) -> None:
        self.context_bytes = tree_bytes(root)
        self.usage.refuse_past_quota(self.context_bytes, "this submission's build context")

    def add_weights(self, sha256: str, size: int) -> None:
        """Count weights of `size` bytes; call before moving a large file into place."""
        self.weights_bytes = size
        if sha256 in self.usage.weights:
            return  # the team stores these weights already: they take no more space
        self.usage.refuse_past_quota(
            self.context_bytes + size, "this submission (its build context and weights)"
        )
