"""Drift of live data against a training profile (:mod:`aedetect.data.profile`): plain functions,
no I/O, so the library can use them without a server.

Figures, each with a verdict ``stable``, ``watch`` or ``drifted``:

* per numeric column the population stability index (PSI) over the training deciles plus a
  missing bucket, and the Kolmogorov–Smirnov statistic against the training distribution;
* per categorical column the PSI over the profiled categories plus the other and missing buckets,
  and the share of unseen categories (values outside the profiled ones; when the profile lists
  only the most frequent categories, the excess over the training share of the rest);
* the anomaly rate against the rate the threshold gives on the training scores;
* the score distribution (PSI over the training score deciles, and KS).

A figure is ``watch`` from the first limit of :data:`LIMITS` and ``drifted`` from the second, but
only when it also exceeds what sampling noise gives at that many rows with 99.9% confidence (PSI:
that quantile of the PSI of samples of that size drawn from the training shares; KS:
``1.95 * sqrt(1/n + 1/N)``; the anomaly rate: its binomial tail), and only from :data:`MIN_ROWS`
values on. So a quiet hour with few rows does not raise an alarm, while
a big sample shows a small real shift only once it passes the limits. The PSI limits 0.1 and 0.25
are the usual ones of credit scoring; KS 0.1 and 0.2 mean a tenth and a fifth of the rows moved
across some value; the unseen limits are 1% and 5% of the rows. The anomaly rate is judged by
:func:`rate_drift`: a one-sided binomial test (p below 0.001) together with a minimum effect of
``max(1 point, 25% of the expected rate)``, so the rule works for an expected share of 1% as for 43%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aedetect.data.encoding import category_keys
from aedetect.data.profile import ColumnProfile, Distribution, TrainingProfile, numeric_values

STABLE, WATCH, DRIFTED, NO_DATA = "stable", "watch", "drifted", "no_data"
RANK = {NO_DATA: 0, STABLE: 1, WATCH: 2, DRIFTED: 3}

LIMITS: dict[str, tuple[float, float]] = {
    "psi": (0.1, 0.25),
    "ks": (0.1, 0.2),
    "unseen_share": (0.01, 0.05),
    "anomaly_rate_effect": (1.0, 2.0),
}
"""Watch and drift limits of each figure (see the module docstring)."""

PSI_FLOOR = 1e-4
"""Share given to an empty bucket in the PSI (its logarithm is otherwise infinite)."""

RATE_EFFECT = (0.01, 0.25)
"""The anomaly rate's minimum effect: ``max(RATE_EFFECT[0], RATE_EFFECT[1] * expected)`` above the
expected rate (a shift smaller than a point, or than a quarter of the rate, is no news to an
operator however many rows prove it); ``watch`` from one such effect, ``drifted`` from two
(``LIMITS["anomaly_rate_effect"]``). Below the expected rate the effect is capped at half the rate
(watch) and two thirds of it (drifted), so a model that stops flagging is still seen at 1%."""
RATE_P = 0.001
"""Largest one-sided binomial p-value of an anomaly rate judged ``watch`` or ``drifted``."""

NOISE_LEVEL = 0.999
"""Confidence of the noise levels: each figure of an unchanged stream passes its noise level once in
a thousand windows, so a report of 25 columns over a few hundred rows shows a false ``watch`` in
about one window in twenty-five, and over thousands of rows (where the limits decide) almost never."""
Z_NOISE = 3.09
"""The normal quantile of :data:`NOISE_LEVEL`."""
KS_NOISE = 1.949
NOISE_DRAWS = 4000
MIN_ROWS = 100
"""Fewer live values than this give figures but no verdict other than ``stable``: PSI and KS of a
handful of rows say little."""
NOISE_SEED = 20261201
DECILES = np.linspace(0.1, 0.9, 9)


def worst(verdicts: list[str]) -> str:
    """The most severe of ``verdicts`` (``no_data`` when there is none)."""
    return max(verdicts, key=RANK.__getitem__, default=NO_DATA)


def verdict(
    value: float | None, limits: tuple[float, float], noise: float = 0.0, rows: int = MIN_ROWS
) -> str:
    """``stable`` / ``watch`` / ``drifted`` for ``value`` against its limits, ``stable`` while it
    is within ``noise`` or measured on fewer than :data:`MIN_ROWS` rows; ``no_data`` when there is
    no value."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if rows < MIN_ROWS or value <= noise or value < limits[0]:
        return STABLE
    return WATCH if value < limits[1] else DRIFTED


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index ``sum((a - e) * ln(a / e))`` of two share vectors."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def chi2_quantile(df: int, z: float = Z_NOISE) -> float:
    """The chi-square quantile with ``df`` degrees of freedom at the normal quantile ``z``
    (Wilson–Hilferty; within a few percent for every ``df``)."""
    k = max(int(df), 1)
    return float(k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3)


def psi_noise(expected: np.ndarray, rows: int, training_rows: int) -> float:
    """The PSI that sampling alone exceeds once in a thousand times when ``rows`` live rows are
    drawn from the ``expected`` shares: its :data:`NOISE_LEVEL` quantile over :data:`NOISE_DRAWS` seeded
    multinomial draws (exact for few rows, where empty buckets dominate), plus the chi-square part
    of the training sample's own variation."""
    if rows <= 0:
        return math.inf
    shares = np.asarray(expected, dtype=np.float64)
    shares = shares / shares.sum()
    draws = np.random.default_rng(NOISE_SEED).multinomial(rows, shares, size=NOISE_DRAWS) / rows
    e = np.maximum(shares, PSI_FLOOR)
    a = np.maximum(draws, PSI_FLOOR)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    buckets = int(np.count_nonzero(shares > 0))
    return float(np.quantile(values, NOISE_LEVEL)) + chi2_quantile(buckets - 1) / max(training_rows, 1)


def ks_noise(rows: int, training_rows: int) -> float:
    """The KS statistic that sampling alone exceeds once in a thousand times."""
    if rows <= 0:
        return math.inf
    return KS_NOISE * math.sqrt(1.0 / rows + 1.0 / max(training_rows, 1))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


@dataclass
class ColumnDrift:
    """The drift figures of one column over ``rows`` live values."""

    column: str
    kind: str
    rows: int
    psi: float | None
    verdict: str
    ks: float | None = None
    unseen_share: float | None = None
    missing_share: float | None = None
    training_missing_share: float = 0.0
    severity: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "column": self.column,
            "kind": self.kind,
            "rows": self.rows,
            "psi": _round(self.psi),
            "verdict": self.verdict,
            "missing_share": _round(self.missing_share),
            "training_missing_share": self.training_missing_share,
        }
        if self.kind == "numeric":
            data["ks"] = _round(self.ks)
        else:
            data["unseen_share"] = _round(self.unseen_share)
        return data


@dataclass
class ScoreDrift:
    """How the live anomaly scores compare with the training scores."""

    rows: int
    psi: float | None
    ks: float | None
    median: float | None
    training_median: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "psi": _round(self.psi),
            "ks": _round(self.ks),
            "median": _round(self.median),
            "training_median": _round(self.training_median),
            "verdict": self.verdict,
        }


@dataclass
class RateDrift:
    """The live anomaly rate against the rate the threshold gives on the training scores."""

    rows: int
    anomalies: int
    observed: float | None
    expected: float
    ratio: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "anomalies": self.anomalies,
            "observed": _round(self.observed),
            "expected": _round(self.expected),
            "ratio": _round(self.ratio, 4),
            "verdict": self.verdict,
        }


@dataclass
class DriftReport:
    """Every figure, the columns ranked most drifted first, and the overall verdict."""

    verdict: str
    rows: int
    sampled_rows: int
    columns: list[ColumnDrift]
    scores: ScoreDrift
    anomaly_rate: RateDrift
    limits: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(LIMITS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rows": self.rows,
            "sampled_rows": self.sampled_rows,
            "columns": [c.to_dict() for c in self.columns],
            "scores": self.scores.to_dict(),
            "anomaly_rate": self.anomaly_rate.to_dict(),
            "limits": {k: list(v) for k, v in self.limits.items()},
        }


def decile_bins(dist: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges at the training deciles (distinct profile points) and the exact training share of
    each right-closed bin ``(-inf, e1], (e1, e2], ..., (ek, inf)`` among the present values."""
    values = np.asarray(dist.values, dtype=np.float64)
    cumulative = np.asarray(dist.cumulative, dtype=np.float64)
    picks = np.minimum(np.searchsorted(cumulative, DECILES - 1e-9, side="left"), len(values) - 1)
    chosen = np.unique(picks)
    edges = values[chosen]
    at = cumulative[chosen]
    shares = np.diff(np.concatenate([[0.0], at, [1.0]]))
    return edges, np.maximum(shares, 0.0)


def ks_statistic(dist: Distribution, values: np.ndarray) -> float | None:
    """Largest gap between the live empirical distribution of ``values`` and the training one,
    at every jump of either (the training one interpolated between its profile points)."""
    live = np.sort(np.asarray(values, dtype=np.float64))
    live = live[np.isfinite(live)]
    n = live.size
    if not n or not dist.values:
        return None
    le_train, lt_train = dist.cdf(live)
    live_le = np.searchsorted(live, live, side="right") / n
    live_lt = np.searchsorted(live, live, side="left") / n
    points = np.asarray(dist.values, dtype=np.float64)
    at_le = np.searchsorted(live, points, side="right") / n
    at_lt = np.searchsorted(live, points, side="left") / n
    gaps = [
        np.abs(live_le - le_train),
        np.abs(live_lt - lt_train),
        np.abs(at_le - np.asarray(dist.cumulative)),
        np.abs(at_lt - np.asarray(dist.below)),
    ]
    return float(max(g.max() for g in gaps))


def _numeric_psi(dist: Distribution, missing_share: float, values: np.ndarray) -> tuple[float, np.ndarray]:
    """PSI over the decile bins plus a missing bucket, and the expected shares of the buckets."""
    n = values.size
    edges, shares = decile_bins(dist)
    present = values[np.isfinite(values)]
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(shares))
    expected = np.concatenate([shares * (1.0 - missing_share), [missing_share]])
    actual = np.concatenate([counts / n, [(n - present.size) / n]])
    return psi(expected, actual), expected


def numeric_drift(profile: ColumnProfile, values: Any, training_rows: int) -> ColumnDrift:
    """PSI and KS of one numeric column's live ``values`` against its profile."""
    array = numeric_values(pd.Series(values)) if not isinstance(values, np.ndarray) else values
    array = np.asarray(array, dtype=np.float64)
    n = array.size
    dist = profile.distribution
    if not n or dist is None:
        return ColumnDrift(profile.name, "numeric", n, None, NO_DATA, None, None, None, profile.missing_share)
    value, expected = _numeric_psi(dist, profile.missing_share, array)
    ks = ks_statistic(dist, array)
    present = int(np.isfinite(array).sum())
    figures = [
        verdict(value, LIMITS["psi"], psi_noise(expected, n, training_rows), n),
        verdict(ks, LIMITS["ks"], ks_noise(present, training_rows), present),
    ]
    return ColumnDrift(
        column=profile.name,
        kind="numeric",
        rows=n,
        psi=value,
        verdict=worst(figures),
        ks=ks,
        missing_share=float(np.mean(~np.isfinite(array))),
        training_missing_share=profile.missing_share,
        severity=max((value or 0.0) / LIMITS["psi"][1], (ks or 0.0) / LIMITS["ks"][1]),
    )


def categorical_drift(profile: ColumnProfile, values: Any, training_rows: int) -> ColumnDrift:
    """PSI over the profiled buckets and the unseen share of one categorical column."""
    keys = category_keys(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
    n = len(keys)
    if not n:
        return ColumnDrift(
            profile.name, "categorical", 0, None, NO_DATA, None, None, None, profile.missing_share
        )
    missing = keys.isna()
    listed = list(profile.categories)
    present = keys[~missing]
    counts = present.value_counts()
    known = counts.reindex(listed, fill_value=0).to_numpy(dtype=np.float64)
    outside = float(len(present) - known.sum())
    expected = np.array([*profile.categories.values(), profile.other_share, profile.missing_share])
    actual = np.array([*(known / n), outside / n, float(missing.sum()) / n])
    value = psi(expected, actual)
    unseen = outside / n
    excess = max(0.0, unseen - profile.other_share)
    figures = [
        verdict(value, LIMITS["psi"], psi_noise(expected, n, training_rows), n),
        verdict(excess, LIMITS["unseen_share"], 0.0, n),
    ]
    return ColumnDrift(
        column=profile.name,
        kind="categorical",
        rows=n,
        psi=value,
        verdict=worst(figures),
        unseen_share=unseen,
        missing_share=float(missing.mean()),
        training_missing_share=profile.missing_share,
        severity=max(value / LIMITS["psi"][1], excess / LIMITS["unseen_share"][1]),
    )


def score_drift(dist: Distribution | None, scores: np.ndarray, training_rows: int) -> ScoreDrift:
    """PSI over the training score deciles and KS of the live ``scores``."""
    live = np.asarray(scores, dtype=np.float64)
    live = live[np.isfinite(live)]
    n = live.size
    training_median = None
    if dist is not None and dist.values:
        at = int(np.searchsorted(np.asarray(dist.cumulative), 0.5, side="left"))
        training_median = float(dist.values[min(at, len(dist.values) - 1)])
    if not n or dist is None:
        return ScoreDrift(n, None, None, None, training_median, NO_DATA)
    value, expected = _numeric_psi(dist, 0.0, live)
    ks = ks_statistic(dist, live)
    figures = [
        verdict(value, LIMITS["psi"], psi_noise(expected, n, training_rows), n),
        verdict(ks, LIMITS["ks"], ks_noise(n, training_rows), n),
    ]
    return ScoreDrift(n, value, ks, float(np.median(live)), training_median, worst(figures))


def binomial_tail(k: int, n: int, p: float, upper: bool) -> float:
    """``P(X >= k)`` (``upper``) or ``P(X <= k)`` for ``X ~ Binomial(n, p)``: summed exactly while
    ``n * p`` is small, else by the normal approximation with continuity correction."""
    if n * p * (1 - p) >= 25:
        sd = math.sqrt(n * p * (1 - p))
        z = ((k - 0.5) - n * p) / sd if upper else ((k + 0.5) - n * p) / sd
        tail = 0.5 * math.erfc(abs(z) / math.sqrt(2))
        return tail if (z > 0) == upper else 1.0 - tail
    terms = range(k, n + 1) if upper else range(0, k + 1)
    log_p, log_q = math.log(p), math.log1p(-p)
    return min(
        1.0,
        sum(
            math.exp(
                math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
            )
            for i in terms
        ),
    )


def rate_effects(expected: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The rates at which the anomaly rate becomes ``watch`` and ``drifted``: ``(above, below)``,
    each a pair ``(watch, drifted)`` (see :data:`RATE_EFFECT`)."""
    effect = max(RATE_EFFECT[0], RATE_EFFECT[1] * expected)
    watch, drift = (effect * k for k in LIMITS["anomaly_rate_effect"])
    above = (expected + watch, expected + drift)
    below = (expected - min(watch, expected / 2), expected - min(drift, 2 * expected / 3))
    return above, below


def rate_drift(rows: int, anomalies: int, expected: float) -> RateDrift:
    """The anomaly rate of ``rows`` live rows against ``expected``: ``watch`` or ``drifted`` when the
    one-sided binomial test in the direction of the gap gives p below :data:`RATE_P` and the rate
    is beyond the minimum effect of :func:`rate_effects` (one effect: watch, two: drifted)."""
    if rows <= 0:
        return RateDrift(0, 0, None, expected, None, NO_DATA)
    observed = anomalies / rows
    p = min(max(expected, 1e-6), 1 - 1e-6)
    higher = observed > p
    chance = binomial_tail(anomalies, rows, p, upper=higher)
    above, below = rate_effects(p)
    if chance >= RATE_P:
        state = STABLE
    elif higher:
        state = DRIFTED if observed >= above[1] else WATCH if observed >= above[0] else STABLE
    else:
        state = DRIFTED if observed <= below[1] else WATCH if observed <= below[0] else STABLE
    return RateDrift(rows, anomalies, observed, expected, observed / p, state)


def compare(
    profile: TrainingProfile,
    sample: pd.DataFrame,
    scores: np.ndarray,
    *,
    rows: int | None = None,
    anomalies: int = 0,
    expected_rate: float = 0.01,
) -> DriftReport:
    """Compare live data with ``profile``: ``sample`` holds live rows with their values (a uniform
    sample of the traffic: drift of each column), ``scores`` live anomaly scores, ``rows`` and
    ``anomalies`` how many rows were scored and flagged (default: the scores given, none flagged),
    ``expected_rate`` the anomaly rate the threshold gives on training data."""
    total = len(scores) if rows is None else rows
    columns: list[ColumnDrift] = []
    for column in profile.columns:
        values = sample[column.name] if column.name in sample.columns else pd.Series([], dtype=object)
        if column.kind == "numeric":
            columns.append(numeric_drift(column, numeric_values(values), profile.rows))
        else:
            columns.append(categorical_drift(column, values, profile.rows))
    columns.sort(key=lambda c: (-RANK[c.verdict], -c.severity, c.column))
    score = score_drift(profile.scores, scores, profile.rows)
    rate = rate_drift(total, anomalies, expected_rate)
    figures = [c.verdict for c in columns] + [score.verdict, rate.verdict]
    return DriftReport(
        verdict=worst(figures) if total else NO_DATA,
        rows=total,
        sampled_rows=len(sample),
        columns=columns,
        scores=score,
        anomaly_rate=rate,
    )


def frame_of(records: Sequence[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Logged row values as a frame of the model's columns (absent values are missing)."""
    return (
        pd.DataFrame.from_records(list(records), columns=columns)
        if records
        else pd.DataFrame(columns=columns)
    )
