from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.kit.repository import Repository
from app.submissions.models import CachedResponse


class CachedResponseRepository(Repository[CachedResponse]):
    model = CachedResponse

    def load_scope(self, scope: str) -> dict[str, dict[str, Any]]:
        stmt = select(CachedResponse).where(CachedResponse.scope == scope)
        return {row.key: row.value for row in self.all(stmt)}

    def put(self, scope: str, key: str, value: dict[str, Any]) -> None:
        """Store one response; a concurrent identical put (same request) is harmless."""
        try:
            with self.session.begin_nested():
                self.session.add(CachedResponse(scope=scope, key=key, value=value))
        except IntegrityError:
            pass
