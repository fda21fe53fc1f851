"""A small typed generic repository: the only place that builds SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.kit.db import Base

ModelT = TypeVar("ModelT", bound=Base)


class Repository(Generic[ModelT]):
    model: type[ModelT]

    def __init__(self, session: Session) -> None:
        self.session = session

    def base_query(self) -> Select[Any]:
        return select(self.model)

    def get(self, id: Any, *, for_update: bool = False) -> ModelT | None:
        if for_update:
            stmt = self.base_query().where(self.model.id == id).with_for_update()  # type: ignore[attr-defined]
            return cast(ModelT | None, self.session.scalars(stmt).one_or_none())
        return self.session.get(self.model, id)

    def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        self.session.flush()
        return obj

    def all(self, stmt: Select[Any]) -> Sequence[ModelT]:
        return cast(Sequence[ModelT], self.session.scalars(stmt).all())

    def one_or_none(self, stmt: Select[Any]) -> ModelT | None:
        return cast(ModelT | None, self.session.scalars(stmt).one_or_none())
