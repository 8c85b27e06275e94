"""The detector contract shared by every aedetect detector (PyOD/scikit-learn style).

Subclasses implement ``fit`` and ``decision_function``; ``predict``, ``threshold_`` and ``labels_``
are derived here once. One score direction everywhere: higher = more anomalous, labels 0/1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np

from aedetect.errors import InvalidInput, NotFitted


class BaseDetector(ABC):
    """Unsupervised outlier detector.

    Parameters
    ----------
    contamination : float
        Expected share of anomalies in the training data, in (0, 0.5]; sets ``threshold_`` at the
        ``1 - contamination`` quantile of the training scores.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training data.
    threshold_ : float
        Scores above it are labelled 1 (anomaly).
    labels_ : ndarray of shape (n_samples,)
        0/1 labels of the training data.
    """

    contamination: float
    decision_scores_: np.ndarray
    threshold_: float
    labels_: np.ndarray

    def __init__(self, *, contamination: float = 0.01) -> None:
        self.contamination = contamination

    @abstractmethod
    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn from ``X`` (labels, if any, are ignored)."""

    @abstractmethod
    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of each row of ``X``; higher = more anomalous."""

    def predict(self, X: Any) -> np.ndarray:
        """0/1 label of each row of ``X`` against ``threshold_``."""
        return (self.decision_function(X) > self._fitted_threshold()).astype(np.int64)

    def set_threshold(self, threshold: float) -> Self:
        """Use an explicit threshold from now on (no retraining)."""
        value = float(threshold)
        if not np.isfinite(value):
            raise InvalidInput("threshold must be a finite number", field="threshold")
        self._fitted_threshold()
        self.threshold_ = value
        self.labels_ = (self.decision_scores_ > value).astype(np.int64)
        return self

    def _process_decision_scores(self) -> None:
        """Derive ``threshold_`` and ``labels_`` from ``decision_scores_`` after fitting."""
        if not 0.0 < self.contamination <= 0.5:
            raise InvalidInput(
                f"contamination must be in (0, 0.5], got {self.contamination!r}", field="contamination"
            )
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def _fitted_threshold(self) -> float:
        threshold = getattr(self, "threshold_", None)
        if threshold is None:
            raise NotFitted(f"this {type(self).__name__} is not fitted yet: call fit() first")
        return float(threshold)
