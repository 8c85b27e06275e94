"""Column encoders: the learned, JSON-serialisable mapping from a frame to the network's arrays.

Numeric columns are centred on the median and scaled by a robust spread (IQR, falling back to the
standard deviation), so anomalies in the training data cannot distort the scale; a missing value is
imputed with the median and flagged in a separate missing-indicator input. Categorical columns map
to codes over their ``vocab_size`` most frequent values plus an "other/unseen" and a "missing"
bucket; the network one-hot encodes the codes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aedetect.data.sketch import CategoryCounter, QuantileSketch
from aedetect.domain import ColumnKind, ColumnSpec
from aedetect.errors import InvalidInput, NotFitted, quoted

NUMERIC_TRANSFORM = "asinh"
"""How numeric columns are scaled: asinh of (x - median) / spread, which keeps the order and the
centre but compresses heavy tails logarithmically, so one huge value cannot dominate the loss."""

NUMERIC_TRANSFORMS = (NUMERIC_TRANSFORM, "robust")
"""The transforms an encoder reads: ``robust``, (x - median) / spread without the asinh, is how
models saved before asinh became the default were scaled (read so they score as they did; new
models are always scaled by :data:`NUMERIC_TRANSFORM`)."""

OTHER_LABEL = "<other>"
"""Label of the bucket for categories outside the vocabulary (rare in training, or unseen)."""


@dataclass
class EncodedTable:
    """A frame as arrays: scaled numeric values (NaN imputed), missing flags, category codes."""

    numeric: np.ndarray  # float32 (n, n_numeric)
    missing: np.ndarray  # float32 (n, n_numeric), 1.0 where the value was missing
    codes: np.ndarray  # int64 (n, n_categorical), in [0, cardinality)

    def __len__(self) -> int:
        return int(self.numeric.shape[0])

    def take(self, index: np.ndarray | slice) -> EncodedTable:
        return EncodedTable(self.numeric[index], self.missing[index], self.codes[index])


def category_key(value: Any) -> str | None:
    """Canonical string key of one category value: ``1``, ``1.0`` and ``"1"`` are the same key;
    a missing value (None, NaN) is ``None``."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return str(number)
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def category_keys(values: pd.Series) -> pd.Series:
    """:func:`category_key` of every value of a column (vectorised for numeric columns)."""
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        integral = ~missing & (np.mod(np.where(missing, 0.0, numbers), 1) == 0) & (np.abs(numbers) < 2**53)
        keys = (
            np.array([str(float(v)) for v in numbers], dtype=object)
            if (~integral).any()
            else (np.empty(len(numbers), dtype=object))
        )
        keys[integral] = numbers[integral].astype(np.int64).astype(str)
        keys[missing] = np.nan
        return pd.Series(keys, index=values.index, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(object).where(values.notna(), np.nan)
    labels = [category_key(v) for v in values.to_numpy(dtype=object)]
    return pd.Series([np.nan if k is None else k for k in labels], index=values.index, dtype=object)


class TabularEncoder:
    """Learns per-column statistics in :meth:`fit` and applies them in :meth:`transform`."""

    def __init__(self, specs: list[ColumnSpec], vocab_size: int, transform: str = NUMERIC_TRANSFORM) -> None:
        if transform not in NUMERIC_TRANSFORMS:
            raise InvalidInput(
                f"numeric_transform {quoted(transform)} was removed from aedetect (numeric columns are "
                f"scaled by {NUMERIC_TRANSFORM} of robust units): train the model again",
                field="numeric_transform",
            )
        self.specs = specs
        self.vocab_size = vocab_size
        self.transform_name = transform
        self.numeric_names = [s.name for s in specs if s.kind is ColumnKind.NUMERIC]
        self.categorical_names = [s.name for s in specs if s.kind is ColumnKind.CATEGORICAL]
        self.center = np.zeros(len(self.numeric_names))
        self.scale = np.ones(len(self.numeric_names))
        self.vocabularies: list[list[str]] = []
        self._lookup_cache: list[dict[str, int]] | None = None
        self.fitted = False

    # --- learning ---------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> TabularEncoder:
        """Learn medians, robust scales and vocabularies from ``frame`` (the model's columns)."""
        statistics = TableStatistics(self)
        statistics.update(frame)
        return self.fit_statistics(statistics)

    def fit_statistics(self, statistics: TableStatistics) -> TabularEncoder:
        """Learn from statistics gathered chunk by chunk (see :class:`TableStatistics`)."""
        n_numeric = len(self.numeric_names)
        self.center, self.scale = np.zeros(n_numeric), np.ones(n_numeric)
        for j, sketch in enumerate(statistics.numeric):
            if not sketch.count:
                continue
            median, q25, q75 = sketch.quantile([0.5, 0.25, 0.75])
            self.center[j] = median
            spread = (q75 - q25) / 1.349
            if spread <= 1e-12:
                spread = sketch.std
            self.scale[j] = spread if spread > 1e-12 else 1.0
        self.vocabularies = [counter.most_common(self.vocab_size) for counter in statistics.categorical]
        self._lookup_cache = None
        self.fitted = True
        return self

    # --- applying ---------------------------------------------------------------------------
    @property
    def cardinalities(self) -> list[int]:
        """Bucket count of each categorical column: vocabulary + other/unseen + missing."""
        return [len(v) + 2 for v in self.vocabularies]

    @property
    def n_input(self) -> int:
        """Width of the encoded vector: value and missing flag per numeric column, one-hot groups."""
        return 2 * len(self.numeric_names) + sum(self.cardinalities)

    def transform(self, frame: pd.DataFrame) -> EncodedTable:
        """Encode ``frame`` (the model's columns, in order)."""
        if not self.fitted:
            raise NotFitted("the column encoder is not fitted")
        n = len(frame)
        scaled = np.empty((n, len(self.numeric_names)), dtype=np.float32)
        missing = np.empty((n, len(self.numeric_names)), dtype=np.float32)
        for j, name in enumerate(self.numeric_names):
            values = self._numeric_column(frame, name)
            missing[:, j] = np.isnan(values)
            scaled[:, j] = self._scaled(values, j)
        codes = np.empty((len(frame), len(self.categorical_names)), dtype=np.int64)
        for j, (name, vocab) in enumerate(zip(self.categorical_names, self.vocabularies, strict=True)):
            keys = category_keys(frame[name])
            idx = pd.Index(vocab, dtype=object).get_indexer(pd.Index(keys)).astype(np.int64)
            idx[idx < 0] = len(vocab)  # other / unseen
            idx[keys.isna().to_numpy()] = len(vocab) + 1  # missing
            codes[:, j] = idx
        return EncodedTable(scaled, missing, codes)

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> EncodedTable:
        """Encode a few rows given as mappings, without building a DataFrame: the fast path for
        scoring single requests. Same result as :meth:`transform` on the equivalent frame."""
        if not self.fitted:
            raise NotFitted("the column encoder is not fitted")
        n = len(records)
        values = np.full((n, len(self.numeric_names)), np.nan)
        for i, record in enumerate(records):
            for j, name in enumerate(self.numeric_names):
                values[i, j] = _number(record[name], name, i)
        missing = np.isnan(values)
        scaled = self._scaled(values, slice(None))
        codes = np.empty((n, len(self.categorical_names)), dtype=np.int64)
        for j, name in enumerate(self.categorical_names):
            lookup = self._lookups[j]
            other = len(self.vocabularies[j])
            for i, record in enumerate(records):
                key = category_key(record[name])
                codes[i, j] = other + 1 if key is None else lookup.get(key, other)
        return EncodedTable(scaled.astype(np.float32), missing.astype(np.float32), codes)

    def scale_numeric(self, values: np.ndarray) -> np.ndarray:
        """Raw numeric values, shape (rows, n_numeric), in the network's scaled units."""
        return np.asarray(self._scaled(np.asarray(values, dtype=np.float64), slice(None)))

    def _scaled(self, values: np.ndarray, columns: int | slice) -> np.ndarray:
        """Scaled values of numeric column(s) ``columns``; missing values become 0 (the median)."""
        scaled = (values - self.center[columns]) / self.scale[columns]
        if self.transform_name == "asinh":
            scaled = np.arcsinh(scaled)
        return np.where(np.isnan(values), 0.0, scaled)

    def robust_units(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled numeric values (the network's units; numeric columns on the last axis) in robust
        units, (x - median) / spread: ``sinh`` undoes ``asinh``; ``robust`` values are robust units
        already.

        Scoring measures reconstruction errors here rather than in the network's units, so the
        compression that steadies training does not also shrink how far out an anomaly lies. Values
        are limited to +-709 before ``sinh`` (beyond, float64 overflows; no trained value comes near).
        """
        values = np.asarray(scaled, dtype=np.float64)
        if self.transform_name == "asinh":
            return np.sinh(np.clip(values, -709.0, 709.0))
        return values

    @property
    def _lookups(self) -> list[dict[str, int]]:
        cached = self._lookup_cache
        if cached is None:
            cached = [{v: i for i, v in enumerate(vocab)} for vocab in self.vocabularies]
            self._lookup_cache = cached
        return cached

    def decode(self, numeric: np.ndarray, code_probs: list[np.ndarray], index: Any = None) -> pd.DataFrame:
        """Back to the original columns: numbers in original units, categories as labels."""
        out: dict[str, Any] = {}
        if self.transform_name == "asinh":
            numeric = np.sinh(numeric)
        unscaled = numeric * self.scale + self.center
        for j, name in enumerate(self.numeric_names):
            out[name] = unscaled[:, j]
        for name, vocab, probs in zip(self.categorical_names, self.vocabularies, code_probs, strict=True):
            labels = np.array([*vocab, OTHER_LABEL, None], dtype=object)
            out[name] = labels[np.argmax(probs, axis=1)]
        return pd.DataFrame({s.name: out[s.name] for s in self.specs}, index=index)

    @staticmethod
    def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
        """Column ``name`` as float64 (NaN where missing), or InvalidInput naming the column and
        the first row that is not a finite number."""
        series = frame[name]
        if pd.api.types.is_complex_dtype(series):
            raise InvalidInput(
                f"column '{name}' holds complex numbers: Complex data not supported", field=name
            )
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            try:
                converted = pd.to_numeric(series, errors="coerce")
            except OverflowError:  # a Python int beyond float range: the cell-wise check names it
                converted = pd.Series([_number(v, name, i) for i, v in enumerate(series)], index=series.index)
            bad = converted.isna() & series.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InvalidInput(
                    f"column '{name}' is numeric but row {row} holds {quoted(series.iloc[row])}; "
                    "send a number, or leave it empty for a missing value",
                    field=name,
                )
            series = converted
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            raise InvalidInput(
                f"column '{name}' holds an infinite value in row {int(np.flatnonzero(infinite)[0])}; "
                "replace it with a finite number or leave it empty",
                field=name,
            )
        return values

    # --- persistence ------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable description of everything learned."""
        return {
            "columns": [{"name": s.name, "kind": s.kind.value} for s in self.specs],
            "vocab_size": self.vocab_size,
            "transform": self.transform_name,
            "center": [float(v) for v in self.center],
            "scale": [float(v) for v in self.scale],
            "vocabularies": self.vocabularies,
            "knots": [],  # read by releases that had a quantile transform (same format number)
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TabularEncoder:
        specs = [ColumnSpec(c["name"], ColumnKind(c["kind"])) for c in state["columns"]]
        encoder = cls(specs, int(state["vocab_size"]), state["transform"])
        encoder.center = np.asarray(state["center"], dtype=np.float64)
        encoder.scale = np.asarray(state["scale"], dtype=np.float64)
        encoder.vocabularies = [list(map(str, v)) for v in state["vocabularies"]]
        encoder.fitted = True
        return encoder


class TableStatistics:
    """What the encoder learns from, gathered one chunk at a time in bounded memory: a quantile
    sketch per numeric column and category counts per categorical column (both exact for a table
    that fits their capacity, see :mod:`aedetect.data.sketch`)."""

    def __init__(self, encoder: TabularEncoder) -> None:
        self.numeric_names = list(encoder.numeric_names)
        self.categorical_names = list(encoder.categorical_names)
        self.numeric = [QuantileSketch(seed=j) for j in range(len(self.numeric_names))]
        self.categorical = [CategoryCounter() for _ in self.categorical_names]
        self.rows = 0

    def update(self, frame: pd.DataFrame) -> None:
        """Add a chunk (the model's columns); a bad value is InvalidInput naming its column."""
        for name, sketch in zip(self.numeric_names, self.numeric, strict=True):
            values = TabularEncoder._numeric_column(frame, name)
            sketch.update(values[~np.isnan(values)])
        for name, counter in zip(self.categorical_names, self.categorical, strict=True):
            counter.update(category_keys(frame[name]))
        self.rows += len(frame)


def _number(value: Any, name: str, row: int) -> float:
    """One numeric cell as a float (NaN when missing), or InvalidInput naming column and row."""
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(
                f"column '{name}' is numeric but row {row} holds {quoted(value)}; "
                "send a number, or leave it empty for a missing value",
                field=name,
            ) from None
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(
            f"column '{name}' holds a number out of range in row {row} ({quoted(value)}); "
            "send a number below 1e308 in magnitude",
            field=name,
        ) from None
    except (TypeError, ValueError):
        raise InvalidInput(
            f"column '{name}' is numeric but row {row} holds {quoted(value)}; send a number", field=name
        ) from None
    if math.isinf(number):
        raise InvalidInput(
            f"column '{name}' holds an infinite value in row {row}; "
            "replace it with a finite number or leave it empty",
            field=name,
        )
    return number
