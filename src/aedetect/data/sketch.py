"""Streaming column statistics in bounded memory: quantiles and category counts.

The column encoders learn medians, spreads, ranges and vocabularies from data that may not fit in
memory (a CSV path, an iterator of frames), one chunk at a time. Both summaries are exact until
they reach their capacity, so a table that fits in memory gets the same statistics as a direct
computation over it; beyond that they approximate with a bounded error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

QUANTILE_CAPACITY = 65_536
"""Values a quantile sketch keeps per level: exact up to this many values; beyond, each of the
(log2 of the count / capacity) levels adds at most 1/capacity of rank error."""

MAX_TRACKED_CATEGORIES = 100_000
"""Distinct values counted exactly per categorical column; past it, the rarest half is dropped
(their counts are far below any value that can make the vocabulary)."""


class QuantileSketch:
    """Approximate quantiles of a stream of numbers (a compactor stack, as in KLL).

    Level ``i`` holds values that each stand for ``2**i`` inputs; when a level outgrows
    ``capacity`` it is sorted and every other value (from a random start) moves up one level, so
    memory stays ``capacity * levels``. Minimum, maximum, count, mean and variance are exact.
    """

    def __init__(self, capacity: int = QUANTILE_CAPACITY, seed: int = 0) -> None:
        self.capacity = capacity
        self._levels: list[list[np.ndarray]] = [[]]
        self._sizes = [0]
        self._rng = np.random.default_rng(seed)
        self.count = 0
        self.minimum = np.inf
        self.maximum = -np.inf
        self._mean = 0.0
        self._m2 = 0.0

    def update(self, values: np.ndarray) -> None:
        """Add finite values (the caller drops missing ones)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if not len(values):
            return
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        # Chan et al.'s parallel update of mean and variance: stable for any chunk sizes
        n, m = self.count, len(values)
        chunk_mean = float(values.mean())
        chunk_m2 = float(((values - chunk_mean) ** 2).sum())
        delta = chunk_mean - self._mean
        total = n + m
        self._mean += delta * m / total
        self._m2 += chunk_m2 + delta * delta * n * m / total
        self.count = total
        self._levels[0].append(values)
        self._sizes[0] += m
        level = 0
        while self._sizes[level] > self.capacity:
            self._compact(level)
            level += 1

    def _compact(self, level: int) -> None:
        merged = np.sort(np.concatenate(self._levels[level]))
        kept = merged[int(self._rng.integers(2)) :: 2]
        self._levels[level], self._sizes[level] = [], 0
        if level + 1 == len(self._levels):
            self._levels.append([])
            self._sizes.append(0)
        self._levels[level + 1].append(kept)
        self._sizes[level + 1] += len(kept)

    @property
    def exact(self) -> bool:
        """Whether every value is still held (no compaction yet)."""
        return len(self._levels) == 1

    @property
    def std(self) -> float:
        """Population standard deviation of the values seen."""
        return float(np.sqrt(self._m2 / self.count)) if self.count else 0.0

    def quantile(self, qs: Sequence[float] | np.ndarray) -> np.ndarray:
        """The quantiles ``qs`` (in [0, 1]); numpy's linear interpolation while exact."""
        if not self.count:
            return np.full(len(qs), np.nan)
        if self.exact:
            return np.quantile(np.concatenate(self._levels[0]), qs)
        values = np.concatenate([np.concatenate(level) for level in self._levels if level])
        weights = np.concatenate([np.full(size, 2.0**i) for i, size in enumerate(self._sizes) if size])
        order = np.argsort(values, kind="stable")
        values, weights = values[order], weights[order]
        # each kept value stands at the middle of the ranks it represents
        positions = (np.cumsum(weights) - 0.5 * weights) / weights.sum()
        out = np.interp(np.asarray(qs, dtype=np.float64), positions, values)
        out[np.asarray(qs) <= 0.0] = self.minimum
        out[np.asarray(qs) >= 1.0] = self.maximum
        return out


class CategoryCounter:
    """Counts of category keys over a stream, bounded to ``MAX_TRACKED_CATEGORIES`` keys."""

    def __init__(self, max_keys: int = MAX_TRACKED_CATEGORIES) -> None:
        self.max_keys = max_keys
        self.counts: pd.Series = pd.Series(dtype=np.int64)

    def update(self, keys: pd.Series) -> None:
        """Add a chunk of keys (missing ones are not counted)."""
        chunk = keys.value_counts(dropna=True)
        if not len(chunk):
            return
        self.counts = chunk if not len(self.counts) else self.counts.add(chunk, fill_value=0)
        if len(self.counts) > self.max_keys:
            self.counts = self.counts.nlargest(self.max_keys // 2)

    def most_common(self, k: int) -> list[str]:
        """The ``k`` most frequent keys, most frequent first, ties in key order."""
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return [str(key) for key, _ in ordered[:k]]
