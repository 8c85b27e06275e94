"""The training profile: what a model version saw in training, kept small (kilobytes of JSON) so
live data can later be compared with it (:mod:`aedetect.data.drift`).

Per numeric column the profile holds the missing share and the training distribution as
:data:`CDF_POINTS` points of its cumulative distribution: values taken from the data (quantiles
that exist in it) with the exact share of training values at or below each (``cumulative``) and
strictly below it (``below``). Point masses (a column that is 0 in most rows) are therefore exact,
and between two points the distribution is interpolated. Per categorical column it holds the
shares of the :data:`MAX_CATEGORIES` most frequent categories, the share of all other categories
(``other_share``, 0 when every category is listed) and the missing share. The training scores get
the same cumulative distribution as a numeric column.

Plain functions over DataFrames and arrays: no I/O, usable without a server.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aedetect.data.encoding import category_keys
from aedetect.errors import InvalidInput

FORMAT = "aedetect-profile"
FORMAT_VERSION = 1

CDF_POINTS = 51
"""Points of a numeric distribution: the quantiles at 0%, 2%, ..., 100%."""

MAX_CATEGORIES = 100
"""Categories listed per categorical column, most frequent first; the rest share one bucket."""

SHARE_DIGITS = 6
"""Decimals kept of a share (values themselves are kept exactly: they decide bin membership)."""


@dataclass
class Distribution:
    """A cumulative distribution at a few points: ``values`` ascending and distinct, ``cumulative``
    the share of values ``<=`` each, ``below`` the share ``<`` each (exact at those points)."""

    values: list[float]
    cumulative: list[float]
    below: list[float]
    mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "cumulative": self.cumulative, "below": self.below, "mean": self.mean}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Distribution:
        try:
            values = [float(v) for v in data["values"]]
            cumulative = [float(v) for v in data["cumulative"]]
            below = [float(v) for v in data["below"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"profile {where}: a distribution needs values, cumulative and below") from exc
        if not len(values) == len(cumulative) == len(below) or any(
            b <= a for a, b in itertools.pairwise(values)
        ):
            raise InvalidInput(f"profile {where}: distribution points are not ascending or not aligned")
        mean = data.get("mean")
        return cls(values, cumulative, below, None if mean is None else float(mean))

    def cdf(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training share ``<= x`` and ``< x`` for each ``x``: exact at the profile's points,
        interpolated between them, 0 below the lowest and 1 above the highest."""
        values = np.asarray(self.values, dtype=np.float64)
        cumulative = np.asarray(self.cumulative, dtype=np.float64)
        below = np.asarray(self.below, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if not len(values):
            empty = np.zeros_like(x)
            return empty, empty
        at = np.searchsorted(values, x, side="left")  # values[at - 1] < x <= values[at]
        exact = (at < len(values)) & (values[np.minimum(at, len(values) - 1)] == x)
        lo = np.maximum(at - 1, 0)
        hi = np.minimum(at, len(values) - 1)
        span = values[hi] - values[lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(span > 0, (x - values[lo]) / span, 0.0)
        between = cumulative[lo] + weight * (below[hi] - cumulative[lo])
        inside = np.where(at == 0, 0.0, np.where(at >= len(values), 1.0, between))
        le = np.where(exact, cumulative[hi], inside)
        lt = np.where(exact, below[hi], inside)
        return le, lt


@dataclass
class ColumnProfile:
    """One model column in training: its kind and missing share, and for a numeric column its
    ``distribution``, for a categorical one its ``categories`` (share of all rows each), the
    ``other_share`` of the categories not listed and the count of ``distinct`` categories."""

    name: str
    kind: str
    missing_share: float
    distribution: Distribution | None = None
    categories: dict[str, float] = field(default_factory=dict)
    other_share: float = 0.0
    distinct: int = 0

    @property
    def complete(self) -> bool:
        """Whether every training category is listed (so anything else was never seen)."""
        return self.distinct <= len(self.categories)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "missing_share": self.missing_share}
        if self.kind == "numeric":
            data["distribution"] = None if self.distribution is None else self.distribution.to_dict()
        else:
            data.update(categories=self.categories, other_share=self.other_share, distinct=self.distinct)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        name, kind = str(data.get("name")), data.get("kind")
        if kind not in ("numeric", "categorical"):
            raise InvalidInput(f"profile column {name!r}: unknown kind {kind!r}")
        missing = float(data.get("missing_share", 0.0))
        if kind == "numeric":
            raw = data.get("distribution")
            dist = None if raw is None else Distribution.from_dict(raw, f"column {name!r}")
            return cls(name, kind, missing, distribution=dist)
        categories = {str(k): float(v) for k, v in dict(data.get("categories") or {}).items()}
        return cls(
            name,
            kind,
            missing,
            categories=categories,
            other_share=float(data.get("other_share", 0.0)),
            distinct=int(data.get("distinct", len(categories))),
        )


@dataclass
class TrainingProfile:
    """The profile of a model version's training data and scores (see the module docstring)."""

    rows: int
    columns: list[ColumnProfile]
    scores: Distribution | None

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise InvalidInput(f"the profile has no column {name!r}", column=name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``format`` and ``format_version`` included)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns],
            "scores": None if self.scores is None else self.scores.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingProfile:
        """Read a document written by :meth:`to_dict`; ``InvalidInput`` if it is not one."""
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise InvalidInput(
                f"not a training profile of format {FORMAT} {FORMAT_VERSION} "
                f"(got {data.get('format')!r} {data.get('format_version')!r})"
            )
        scores = data.get("scores")
        return cls(
            rows=int(data.get("rows", 0)),
            columns=[ColumnProfile.from_dict(c) for c in data.get("columns") or []],
            scores=None if scores is None else Distribution.from_dict(scores, "scores"),
        )


def _share(value: float) -> float:
    return round(float(value), SHARE_DIGITS)


def distribution(values: np.ndarray, points: int = CDF_POINTS) -> Distribution | None:
    """The cumulative distribution of the finite ``values`` at ``points`` quantiles (values that
    occur in the data), with the exact shares at and below each; ``None`` when none is finite."""
    present = np.asarray(values, dtype=np.float64)
    present = np.sort(present[np.isfinite(present)])
    if not present.size:
        return None
    chosen = np.unique(np.quantile(present, np.linspace(0.0, 1.0, points), method="inverted_cdf"))
    n = present.size
    le = np.searchsorted(present, chosen, side="right") / n
    lt = np.searchsorted(present, chosen, side="left") / n
    return Distribution(
        values=[float(v) for v in chosen],
        cumulative=[_share(v) for v in le],
        below=[_share(v) for v in lt],
        mean=float(present.mean()),
    )


def numeric_values(series: pd.Series) -> np.ndarray:
    """A column as float64 with NaN where a value is missing or not a number."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def profile_column(series: pd.Series, name: str, kind: str) -> ColumnProfile:
    """The profile of one column of training data."""
    rows = len(series)
    if kind == "numeric":
        values = numeric_values(series)
        missing = float(np.mean(~np.isfinite(values))) if rows else 0.0
        return ColumnProfile(name, kind, _share(missing), distribution=distribution(values))
    keys = category_keys(series)
    missing_mask = keys.isna()
    counts = keys[~missing_mask].value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    listed = ordered[:MAX_CATEGORIES]
    categories = {str(k): _share(c / rows) for k, c in listed}
    other = sum(c for _, c in ordered[MAX_CATEGORIES:]) / rows if rows else 0.0
    return ColumnProfile(
        name,
        kind,
        _share(float(missing_mask.mean()) if rows else 0.0),
        categories=categories,
        other_share=_share(other),
        distinct=len(ordered),
    )


def profile_frame(
    frame: pd.DataFrame, column_kinds: Mapping[str, str], scores: np.ndarray | None = None
) -> TrainingProfile:
    """The training profile of ``frame``'s model columns (``column_kinds``: name -> ``numeric``
    or ``categorical``, as ``AutoEncoderDetector.column_kinds_``) and of its training ``scores``."""
    lacking = [c for c in column_kinds if c not in frame.columns]
    if lacking:
        raise InvalidInput(f"the frame lacks the model column(s) {', '.join(lacking[:5])}", column=lacking[0])
    columns = [profile_column(frame[name], name, kind) for name, kind in column_kinds.items()]
    return TrainingProfile(
        rows=len(frame),
        columns=columns,
        scores=None if scores is None else distribution(np.asarray(scores, dtype=np.float64)),
    )
