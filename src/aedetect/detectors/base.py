"""The detector contract shared by every aedetect detector (PyOD/scikit-learn style).

Subclasses implement ``fit`` and ``decision_function``; ``predict``, ``fit_predict``,
``predict_proba``, ``predict_confidence``, ``threshold_`` and ``labels_`` are derived here once, as
PyOD's ``BaseDetector`` derives them. One score direction everywhere: higher = more anomalous,
labels 0/1 (PyOD's convention; scikit-learn's own outlier detectors answer -1/1).

The parameter protocol is scikit-learn's (``get_params``/``set_params`` over the constructor's
arguments, a ``repr`` of the changed ones, estimator tags), so ``sklearn.base.clone``,
``Pipeline`` and ``GridSearchCV`` take a detector as they take their own estimators, without this
package importing scikit-learn.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np

from aedetect.errors import InvalidInput, NotFitted

PROBA_METHODS = ("linear", "unify")
"""``predict_proba`` conversions: min-max over the training scores, or Kriegel et al.'s unified
Gaussian scaling (PyOD's two methods)."""


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

    _estimator_type = "outlier_detector"  # scikit-learn before 1.6 reads this instead of the tags

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

    # --- parameters (scikit-learn's protocol) ---------------------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's keyword arguments, sorted (what ``get_params`` reports)."""
        signature = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as stored (``deep`` is accepted for scikit-learn; a detector
        holds no nested estimators)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments (checked at the next ``fit``); an unknown name is an error."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise InvalidInput(
                    f"{type(self).__name__} has no parameter {name!r}; valid parameters: {', '.join(valid)}",
                    field=name,
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``ClassName(param=value, ...)`` listing the parameters that differ from their defaults."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags: an unsupervised outlier detector that takes 2-D tables
        with missing values, strings and categories (only scikit-learn calls this)."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(allow_nan=True, categorical=True, string=True),
        )

    # --- predictions (PyOD's surface) -----------------------------------------------------------
    def predict(self, X: Any, return_confidence: bool = False) -> Any:
        """0/1 label of each row of ``X`` against ``threshold_`` (1 = anomaly); with
        ``return_confidence``, also :meth:`predict_confidence` as a second array."""
        threshold = self._fitted_threshold()
        scores = self.decision_function(X)
        labels = (scores > threshold).astype(np.int64)
        if return_confidence:
            return labels, self._confidence(scores)
        return labels

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return the 0/1 labels of its rows (``labels_``)."""
        return self.fit(X, y).labels_

    def predict_proba(self, X: Any, method: str = "linear", return_confidence: bool = False) -> Any:
        """Probability of each row being normal and anomalous, shape (n_rows, 2).

        ``method="linear"``: the score min-max scaled over the training scores and clipped to
        [0, 1]; ``"unify"``: ``erf((score - mean) / (std * sqrt(2)))`` of the training scores,
        clipped (Kriegel et al. 2011). The same conversions as PyOD's."""
        if method not in PROBA_METHODS:
            raise InvalidInput(
                f"method must be one of {', '.join(PROBA_METHODS)}, got {method!r}", field="method"
            )
        self._fitted_threshold()
        train = np.asarray(self.decision_scores_, dtype=np.float64)
        scores = self.decision_function(X)
        if method == "linear":
            low, high = float(train.min()), float(train.max())
            anomalous = (scores - low) / (high - low) if high > low else (scores > high).astype(float)
        else:
            from scipy.special import erf

            sigma = float(train.std())
            z = (scores - float(train.mean())) / (sigma * np.sqrt(2.0)) if sigma > 0 else scores * 0.0
            anomalous = erf(z)
        anomalous = np.clip(anomalous, 0.0, 1.0)
        probs = np.column_stack([1.0 - anomalous, anomalous])
        if return_confidence:
            return probs, self._confidence(scores)
        return probs

    def predict_confidence(self, X: Any) -> np.ndarray:
        """How surely each row's label would stay the same were the training set slightly
        different, in [0, 1] (ExCeeD, Perini et al. 2020; PyOD's ``predict_confidence``)."""
        self._fitted_threshold()
        return self._confidence(self.decision_function(X))

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import bdtr

        train = np.sort(np.asarray(self.decision_scores_, dtype=np.float64))
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # training scores <= each score
        posterior = (1.0 + below) / (2.0 + n)
        confidence = 1.0 - bdtr(n - int(n * float(self.contamination)), n, posterior)
        normal = scores <= self.threshold_
        confidence[normal] = 1.0 - confidence[normal]
        return np.asarray(confidence, dtype=np.float64)

    # --- thresholds -----------------------------------------------------------------------------
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
        threshold = self.__dict__.get("threshold_")
        if threshold is None:
            raise NotFitted(f"this {type(self).__name__} is not fitted yet: call fit() first")
        return float(threshold)


def _same(value: Any, default: Any) -> bool:
    """Whether a parameter still holds its default (arrays and lists compared by value)."""
    if value is default:
        return True
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False
