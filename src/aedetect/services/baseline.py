"""The honest baseline: an IsolationForest (scikit-learn) fitted on the same training rows as the
autoencoder, encoded the same way (the project's column encoder: scaled numbers, missing flags,
one-hot categories), so every evaluation can show whether the autoencoder earns its keep.

The forest is never saved (a fitted scikit-learn model only persists as a pickle, which this
service never loads). It is refitted on demand from the version's training data with the same
fixed seed, which gives the same forest; the fingerprint of its training scores, recorded when
the version was trained, proves it (or says that the training data changed since).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aedetect.data.encoding import TabularEncoder
from aedetect.data.schema import select_columns
from aedetect.domain import ColumnKind, ColumnSpec

FOREST_PARAMS: dict[str, Any] = {"n_estimators": 100, "max_samples": 256, "random_state": 0}
"""scikit-learn's defaults with a fixed seed: the refit reproduces the forest exactly."""

CHUNK_ROWS = 32768
CACHED_FORESTS = 4


def fingerprint(scores: np.ndarray) -> str:
    """SHA-256 of the forest's training scores (float64 bytes)."""
    return hashlib.sha256(np.ascontiguousarray(scores, dtype=np.float64).tobytes()).hexdigest()


@dataclass
class Baseline:
    """A fitted forest with its encoder; ``threshold`` splits at the model's contamination."""

    encoder: TabularEncoder
    forest: Any
    threshold: float
    training_scores: np.ndarray

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        table = self.encoder.transform(select_columns(frame, [s.name for s in self.encoder.specs]))
        onehots = [
            np.eye(card, dtype=np.float32)[table.codes[:, j]]
            for j, card in enumerate(self.encoder.cardinalities)
        ]
        return np.hstack([table.numeric, table.missing, *onehots]).astype(np.float32)

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Anomaly score of each row (higher = more anomalous, as everywhere in aedetect)."""
        parts = [
            -self.forest.score_samples(self._matrix(frame.iloc[start : start + CHUNK_ROWS]))
            for start in range(0, len(frame), CHUNK_ROWS)
        ]
        return np.concatenate(parts) if parts else np.empty(0)

    def summary(self) -> dict[str, Any]:
        """What a model version records about its baseline."""
        return {
            "detector": "IsolationForest",
            "params": dict(FOREST_PARAMS),
            "threshold": self.threshold,
            "fingerprint": fingerprint(self.training_scores),
        }


def fit_baseline(
    frame: pd.DataFrame,
    column_kinds: Mapping[str, str],
    vocab_size: int,
    numeric_transform: str,
    contamination: float,
) -> Baseline:
    """Fit the forest on ``frame``'s model columns, encoded as the autoencoder encodes them."""
    from sklearn.ensemble import IsolationForest

    specs = [ColumnSpec(name, ColumnKind(kind)) for name, kind in column_kinds.items()]
    encoder = TabularEncoder(specs, vocab_size, numeric_transform).fit(
        select_columns(frame, list(column_kinds))
    )
    baseline = Baseline(encoder, IsolationForest(**FOREST_PARAMS), 0.0, np.empty(0))
    baseline.forest.fit(baseline._matrix(frame))
    baseline.training_scores = baseline.scores(frame)
    baseline.threshold = float(np.quantile(baseline.training_scores, 1.0 - contamination))
    return baseline
