"""The evaluator's response cache, stored in Podium's database.

Every response is written as it arrives, so a worker killed mid-evaluation loses nothing: the
redelivered task finds them and sends only what is missing.

PostgreSQL's JSON type refuses NaN and infinities, which Python's json writes by default. The
evaluator's clients already store a non-finite logprob as None; `json_safe` does the same for
anything else on its way in, so a team's garbage number can never fail the write (and with it the
evaluation, as an internal error).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from typing import Any

from app.kit.db import session_scope
from app.submissions.cache_repository import CachedResponseRepository


def cache_scope(image_id: str, weights_sha256: str | None, fresh_salt: str = "") -> str:
    """Responses are reusable exactly for the same image and the same weights. A fresh re-run
    passes its evaluation id as `fresh_salt`, so it asks the model everything again."""
    key = f"{image_id}\0{weights_sha256 or ''}\0{fresh_salt}"
    return hashlib.sha256(key.encode()).hexdigest()


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None; strict JSON (no NaN) after."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except ValueError:
        pass
    return _replace_non_finite(value)


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_non_finite(item) for item in value]
    return value


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
        value = json_safe(value)
        with self._lock:
            if key in self._known:
                return
            with session_scope(self.database_url) as session:
                CachedResponseRepository(session).put(self.scope, key, value)
            self._known[key] = value
