"""Typed name registries filled by decorators.

Scenarios, adapters, metrics, protocols and suites are looked up by name. A registry refuses a
second registration under the same name (two modules silently shadowing each other would change
scores), and a failed lookup suggests the closest names, so a typo in a competition config is
obvious.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from evaluator.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object map for one kind of thing (`kind` is used in error messages)."""

    def __init__(self, kind: str, not_found: type[UnknownNameError] = UnknownNameError) -> None:
        self.kind = kind
        self._not_found = not_found
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def decorate(item: T) -> T:
            return self.add(name, item)

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = self.names()
            suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            raise self._not_found(self.kind, name, suggestions, known) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
