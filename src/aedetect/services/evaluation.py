"""Evaluating a model on a version's evaluation data (``evaldata`` read through ``feed_test``).

The result keeps the old system's two lists, ``predicts`` (the v1 similarity of each row, as
strings) and ``labels`` (the reference value it is compared with: the same function of the
threshold, as strings), so ``predicts[i] < labels[i]`` exactly when row ``i`` is an anomaly. It adds
what a user needs: the model's anomaly ``scores``, the ``is_anomaly`` verdicts, the ``threshold``,
the raw ``cosine_similarity`` and ``roc_auc`` when the evaluation data carries a label column. The
stored result is judged again against the current threshold whenever it is read, so v1 verdicts
follow a threshold change.

:func:`classification_metrics` is the native API's evaluation at a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.errors import Hint, InvalidInput, NotFound, listed, quoted
from aedetect.registry.base import Registry
from aedetect.services.datasets import DatasetService
from aedetect.services.scoring import (
    ScoringService,
    current_threshold,
    finite_or_none,
    judged_similarity,
    similarity_scale,
)
from aedetect.services.workflow import EVAL, EVAL_DATA, EVAL_FEED, EVAL_NODE, FEED_NODE, WorkflowService

NORMAL_WORDS = frozenset({"0", "0.0", "false", "normal", "n", "no", "ok", ""})
"""Label values read as "normal" when ``eval_node`` names no ``normal_value``."""


def anomaly_labels(values: pd.Series, normal_value: Any = None) -> np.ndarray:
    """0/1 ground truth from a label column: 1 where a row is a known anomaly."""
    if normal_value is not None:
        return (values.astype(str) != str(normal_value)).to_numpy(dtype=np.int64)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return (values.fillna(0).astype(float) != 0).to_numpy(dtype=np.int64)
    text = values.fillna("").astype(str).str.strip().str.lower()
    return (~text.isin(NORMAL_WORDS)).to_numpy(dtype=np.int64)


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) against 0/1 ``truth``
    (Mann-Whitney rank statistic, ties averaged); ``None`` unless both classes occur."""
    keep = np.isfinite(scores)
    truth, scores = truth[keep], scores[keep]
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


QUANTILES = {"min": 0.0, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99, "max": 1.0}
"""Score quantiles reported per class."""


def judged(result: dict[str, Any], threshold: float, scale: float) -> dict[str, Any]:
    """A stored evaluation result judged against ``threshold``: reference value, similarities and
    verdicts recomputed from its scores (NaN scores stay unjudged)."""
    scores = np.array([np.nan if v is None else v for v in result["scores"]], dtype=np.float64)
    similarity, reference = judged_similarity(scores, threshold, scale)
    return {
        **result,
        "labels": [str(reference) for _ in range(len(scores))],
        "predicts": [str(v) for v in similarity],
        "is_anomaly": [bool(v) for v in scores > threshold],
        "threshold": finite_or_none(threshold),
        "reference_similarity": finite_or_none(reference),
    }


def evaluation_result(
    detector: AutoEncoderDetector,
    frame: pd.DataFrame,
    threshold: float,
    label_column: str | None = None,
    normal_value: Any = None,
) -> dict[str, Any]:
    """Score every row of ``frame`` in one pass and build the evaluation result."""
    scored = detector.score(frame)
    result: dict[str, Any] = {
        "scores": [finite_or_none(v) for v in scored.scores],
        "cosine_similarity": [finite_or_none(v) for v in scored.similarity],
        "rows": len(frame),
    }
    result = judged(result, threshold, similarity_scale(detector.threshold_))
    if label_column is not None:
        truth = anomaly_labels(frame[label_column], normal_value)
        result["label_column"] = label_column
        result["known_anomalies"] = int(truth.sum())
        result["roc_auc"] = roc_auc(truth, np.asarray(scored.scores, dtype=np.float64))
    return result


def _quantiles(scores: np.ndarray) -> dict[str, float | None] | None:
    finite = scores[np.isfinite(scores)]
    if not finite.size:
        return None
    values = np.quantile(finite, list(QUANTILES.values()))
    return {name: finite_or_none(v) for name, v in zip(QUANTILES, values, strict=True)}


def classification_metrics(truth: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """How well ``scores`` (higher = more anomalous) separate the 0/1 ``truth``: ROC-AUC and average
    precision (``None`` unless both classes occur), precision, recall, F1 and the confusion matrix
    of the verdicts ``score > threshold``, and score quantiles per class."""
    from sklearn.metrics import average_precision_score

    truth = np.asarray(truth, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    positive = truth == 1
    finite = np.isfinite(scores)
    both = 0 < int(truth[finite].sum()) < int(finite.sum())
    return {
        "rows": len(truth),
        "anomalies": int(positive.sum()),
        "threshold": finite_or_none(threshold),
        "roc_auc": roc_auc(truth, scores),
        "average_precision": (
            float(average_precision_score(truth[finite], scores[finite])) if both else None
        ),
        **verdict_metrics(truth, scores, threshold),
        "quantiles": {"normal": _quantiles(scores[~positive]), "anomaly": _quantiles(scores[positive])},
    }


def verdict_metrics(truth: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1 and the confusion matrix of the verdicts ``score > threshold``
    against the 0/1 ``truth`` (each ratio 0 where it is undefined)."""
    predicted = np.asarray(scores, dtype=np.float64) > threshold
    positive = np.asarray(truth) == 1
    tp, fp = int((predicted & positive).sum()), int((predicted & ~positive).sum())
    fn, tn = int((~predicted & positive).sum()), int((~predicted & ~positive).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


class EvaluationService:
    """Checks and runs the evaluation step of a version's workflow."""

    def __init__(
        self, registry: Registry, workflow: WorkflowService, datasets: DatasetService, scoring: ScoringService
    ) -> None:
        self._registry = registry
        self._workflow = workflow
        self._datasets = datasets
        self._scoring = scoring

    def settings(self, nn_id: str, version: int) -> dict[str, Any]:
        """The ``eval_node`` settings (empty when never set)."""
        return self._workflow.config(nn_id, version, EVAL, EVAL_NODE)

    def check(self, nn_id: str, version: int, model_columns: Sequence[str] | None) -> bool:
        """Refuse evaluation settings that cannot work with a model of ``model_columns`` (``None``:
        any columns, for a model not trained yet). Returns whether there is evaluation data."""
        eval_columns = self._datasets.columns(nn_id, version, EVAL_DATA)
        if eval_columns is None:
            return False
        settings = self.settings(nn_id, version)
        label = settings.get("label_column")
        if label is not None and label not in eval_columns:
            raise InvalidInput(
                f"eval_node label_column {quoted(label)} is not a column of the evaldata files "
                f"(columns: {listed(eval_columns)})",
                field="label_column",
            )
        feed = self._workflow.config(nn_id, version, EVAL_FEED, FEED_NODE).get("encode_column") or []
        if feed and model_columns is not None and set(feed) != set(model_columns):
            raise InvalidInput(
                "feed_test encode_column must list the model's columns "
                f"({listed(model_columns)}), got {listed(feed)}",
                field="encode_column",
            )
        needed = list(model_columns) if model_columns is not None else feed
        missing = [c for c in needed if c not in eval_columns]
        if missing:
            raise InvalidInput(
                f"the evaldata files lack the model column(s) {listed(missing)}", field="evaldata"
            )
        return True

    def evaluate(
        self, nn_id: str, version: int, detector: AutoEncoderDetector, threshold: float
    ) -> dict[str, Any] | None:
        """Evaluate ``detector`` on the version's evaluation data; ``None`` when there is none."""
        if not self.check(nn_id, version, detector.columns_):
            return None
        settings = self.settings(nn_id, version)
        frame = self._datasets.load_frame(nn_id, version, EVAL_DATA)
        return evaluation_result(
            detector, frame, threshold, settings.get("label_column"), settings.get("normal_value")
        )

    def evaluate_active(self, nn_id: str, version: int) -> dict[str, Any]:
        """Re-evaluate the version's serving model on the current evaluation data and keep the
        result on its run (what ``result`` returns from then on)."""
        run = self._scoring.serving_run(nn_id, version)
        detector = self._scoring.detector(run)
        result = self.evaluate(nn_id, version, detector, current_threshold(run, detector))
        if result is None:
            raise InvalidInput(
                f"node 'evaldata' of version {version} of network {nn_id} holds no file: upload the "
                "evaluation CSV first",
                field="evaldata",
            )
        self._registry.update_run(run.run_id, {"result": result})
        return result

    def last_result(self, nn_id: str, version: int) -> dict[str, Any]:
        """The evaluation result of the version's serving model, judged against its current threshold."""
        run = self._scoring.serving_run(nn_id, version)
        if run.result is None:
            raise NotFound(
                f"version {version} of network {nn_id} has no evaluation result yet: upload evaluation "
                "data to node 'evaldata' and train, or run the version's evaluation node",
                hint=Hint("evaluate", model=nn_id, version=version),
            )
        detector = self._scoring.detector(run)
        return judged(run.result, current_threshold(run, detector), similarity_scale(detector.threshold_))


def assessment(
    truth: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    baseline_scores: np.ndarray | None,
    baseline_threshold: float | None,
) -> dict[str, Any]:
    """:func:`classification_metrics` of the model and, under ``baseline``, of the IsolationForest
    on the same rows (``None`` when it could not be refitted)."""
    result = classification_metrics(truth, scores, threshold)
    result["baseline"] = (
        None
        if baseline_scores is None or baseline_threshold is None
        else {
            "detector": "IsolationForest",
            **classification_metrics(truth, baseline_scores, baseline_threshold),
        }
    )
    return result
