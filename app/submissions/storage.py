"""Where uploads live on disk, under the data directory.

    <data>/staging/<random>/     an upload being received; removed whatever happens
    <data>/contexts/<id>/        a submission's extracted build context
    <data>/weights/<sha256>/     weights, content-addressed (identical uploads stored once)

Everything is first written into staging and then renamed into place, so a failure never leaves
a half-written context or weights directory behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Storage:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.staging_root = data_dir / "staging"
        self.contexts_root = data_dir / "contexts"
        self.weights_root = data_dir / "weights"

    def context_dir(self, submission_id: str) -> Path:
        return self.contexts_root / submission_id

    def weights_dir(self, sha256: str) -> Path:
        return self.weights_root / sha256

    @contextmanager
    def staging(self) -> Iterator[Path]:
        path = self.staging_root / uuid.uuid4().hex
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def publish_context(self, staged: Path, submission_id: str) -> Path:
        target = self.context_dir(submission_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return target

    def publish_weights(self, staged: Path, sha256: str) -> Path:
        target = self.weights_dir(sha256)
        if target.exists():
            return target  # same content already stored
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staged, target)
        except OSError:
            if not target.exists():  # lost a race with an identical upload: that is fine
                raise
        return target

    def discard_context(self, submission_id: str) -> None:
        shutil.rmtree(self.context_dir(submission_id), ignore_errors=True)
