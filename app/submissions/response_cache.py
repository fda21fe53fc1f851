"""The evaluator's response cache, stored in Podium's database.

Every response is written as it arrives, so a worker killed mid-evaluation loses nothing: the
redelivered task finds them and sends only what is missing.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from app.kit.db import session_scope
from app.submissions.cache_repository import CachedResponseRepository


def cache_scope(image_id: str, weights_sha256: str | None, fresh_salt: str = "") -> str:
    """Responses are reusable exactly for the same image and the same weights. A fresh re-run
    passes its evaluation id as `fresh_salt`, so it asks the model everything again."""
    key = f"{image_id}\0{weights_sha256 or ''}\0{fresh_salt}"
    return hashlib.sha256(key.encode()).hexdigest()


class DbResponseCache:
    def __init__(self, database_url: str, scope: str) -> None:
        self.database_url = database_url
        self.scope = scope
        self._lock = threading.Lock()
        with session_scope(database_url) as session:
            self._known = CachedResponseRepository(session).load_scope(scope)

    def __len__(self) -> int:
        return len(self._known)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._known.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            if key in self._known:
                return
            with session_scope(self.database_url) as session:
                CachedResponseRepository(session).put(self.scope, key, value)
            self._known[key] = value
