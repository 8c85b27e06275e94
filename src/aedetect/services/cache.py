"""A small, thread-safe cache of recently used values that are costly to rebuild (refitted
baselines, the scores of a dataset under a model version), least recently used dropped first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentCache(Generic[T]):
    """Values by key, at most ``max_items`` of them. A value is built outside the lock, so a slow
    build does not hold up readers of other keys (two builds of one key may race; both give the
    same value, and the last one is kept)."""

    def __init__(self, max_items: int) -> None:
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The value of ``key``, built with ``build`` on first use."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        built = build()
        with self._lock:
            self._items[key] = built
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return built
