"""Drift of a model version: the rows it scored in a time window (from the scoring log) against
its training profile (:mod:`aedetect.data.drift` has the figures, their verdicts and limits).

The anomaly rate is counted over every logged row of the window; the score distribution uses the
newest :data:`MAX_SCORES` of them; per-column drift uses the newest :data:`MAX_SAMPLED` rows whose
values the uniform sample kept (``AEDETECT_LOG_SAMPLE``). The expected anomaly rate is the share of
the version's training scores above its current threshold, so it follows threshold changes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from aedetect.artifacts import load_profile
from aedetect.data.drift import compare, frame_of
from aedetect.data.profile import TrainingProfile
from aedetect.domain import TrainingRun
from aedetect.errors import Conflict, InvalidInput
from aedetect.registry.base import Registry
from aedetect.services.cache import RecentCache
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import ScoringService, current_threshold, run_key
from aedetect.services.thresholds import ThresholdService
from aedetect.storage import ArtifactStore

WINDOW_PATTERN = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_WINDOW = timedelta(days=366)
DEFAULT_WINDOW = "24h"
SERIES_BUCKETS = 24
MAX_SCORES = 100_000
MAX_SAMPLED = 20_000
CACHED_PROFILES = 32


def parse_window(text: str) -> timedelta:
    """A duration such as ``15m``, ``24h``, ``7d`` (also ``s`` and ``w``), or ``InvalidInput``."""
    found = WINDOW_PATTERN.fullmatch(text.strip())
    if found is None:
        raise InvalidInput(
            f"window must be a number and a unit (s, m, h, d or w), such as 15m, 24h or 7d; got {text!r}",
            field="window",
        )
    length = timedelta(**{UNITS[found.group(2)]: int(found.group(1))})
    if length > MAX_WINDOW:
        raise InvalidInput(f"window is longer than {MAX_WINDOW.days} days: {text!r}", field="window")
    return length


def resolve_window(
    window: str | None, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime, str | None]:
    """``(since, until, duration)``: ``window`` back from ``until`` (default now), or ``since`` to
    ``until``; the default is the last :data:`DEFAULT_WINDOW`."""
    end = (until or now).astimezone(UTC)
    if window is not None and since is not None:
        raise InvalidInput("give either window or since, not both", field="window")
    if since is not None:
        start = since.astimezone(UTC)
        if start >= end:
            raise InvalidInput("since must be before until (or now)", field="since")
        return start, end, None
    duration = window or DEFAULT_WINDOW
    return end - parse_window(duration), end, duration


class DriftService:
    """Drift reports and training profiles of model versions."""

    def __init__(
        self,
        registry: Registry,
        paths: DataPaths,
        store: ArtifactStore,
        scoring: ScoringService,
        thresholds: ThresholdService,
    ) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self._scoring = scoring
        self._thresholds = thresholds
        self._profiles: RecentCache[TrainingProfile] = RecentCache(CACHED_PROFILES)

    def profile(self, run: TrainingRun) -> TrainingProfile:
        """The version's training profile (``Conflict`` for a version trained before profiles)."""
        return self._profiles.get(run_key(run), lambda: self._load_profile(run))

    def _load_profile(self, run: TrainingRun) -> TrainingProfile:
        if run.model_path is None:
            raise Conflict(f"model version {run.model_version} has no model", field="version")
        profile = load_profile(self._store.local_dir(self._paths.model_key(run.model_path)))
        if profile is None:
            raise Conflict(
                f"model version {run.model_version} was trained before training profiles were kept: "
                "train the model again to compare its traffic with its training data",
                field="version",
            )
        return profile

    def expected_rate(self, run: TrainingRun, profile: TrainingProfile, threshold: float) -> float:
        """Share of the version's training scores above ``threshold``."""
        try:
            training = self._thresholds.training_scores(run)
        except Conflict:
            if profile.scores is None:
                return 0.0
            le, _ = profile.scores.cdf(np.asarray([threshold]))
            return float(1.0 - le[0])
        return float(np.mean(training > threshold))

    def report(
        self,
        run: TrainingRun,
        window: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The drift report of the version over the window (see the module docstring)."""
        start, end, duration = resolve_window(window, since, until, now or datetime.now(UTC))
        profile = self.profile(run)
        threshold = current_threshold(run, self._scoring.detector(run))
        step = (end - start) / SERIES_BUCKETS
        edges = [start + step * i for i in range(SERIES_BUCKETS)] + [end]
        counts = self._registry.score_counts(run.run_id, edges)
        rows = sum(c[0] for c in counts)
        anomalies = sum(c[1] for c in counts)
        scores, sampled = self._registry.score_sample(
            run.run_id, start, end, scores=MAX_SCORES, sampled=MAX_SAMPLED
        )
        columns = [c.name for c in profile.columns]
        result = compare(
            profile,
            frame_of(sampled, columns),
            np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64),
            rows=rows,
            anomalies=anomalies,
            expected_rate=self.expected_rate(run, profile, threshold),
        ).to_dict()
        result["anomaly_rate"]["series"] = [
            {
                "since": edges[i],
                "until": edges[i + 1],
                "rows": total,
                "anomalies": flagged,
                "rate": flagged / total if total else None,
            }
            for i, (total, flagged) in enumerate(counts)
        ]
        return {
            "model": run.nn_id,
            "version": run.model_version,
            "threshold": threshold,
            "window": {"since": start, "until": end, "duration": duration},
            **result,
        }
