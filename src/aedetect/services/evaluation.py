"""Evaluating a model on a version's evaluation data (``evaldata`` read through ``feed_test``).

The result keeps the old system's two lists, ``predicts`` (similarity of each row, as strings) and
``labels`` (the reference similarity it is compared with, as strings), and adds what a user needs:
the model's anomaly ``scores``, the ``is_anomaly`` verdicts, the ``threshold``, and ``roc_auc``
when the evaluation data carries a label column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.errors import InvalidInput, NotFound, listed, quoted
from aedetect.registry.base import Registry
from aedetect.services.datasets import DatasetService
from aedetect.services.scoring import ScoringService, finite_or_none
from aedetect.services.workflow import EVAL, EVAL_DATA, EVAL_FEED, EVAL_NODE, FEED_NODE, WorkflowService

NORMAL_WORDS = frozenset({"0", "0.0", "false", "normal", "n", "no", "ok", ""})
"""Label values read as "normal" when ``eval_node`` names no ``normal_value``."""


def reference_similarity(similarity: np.ndarray, contamination: float) -> float | None:
    """The similarity below which the expected share of anomalous training rows falls: the
    old system's fixed reference value, derived from the model's own training data."""
    finite = similarity[np.isfinite(similarity)]
    return float(np.quantile(finite, contamination)) if finite.size else None


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


def evaluation_result(
    detector: AutoEncoderDetector,
    frame: pd.DataFrame,
    reference: float | None,
    label_column: str | None = None,
    normal_value: Any = None,
) -> dict[str, Any]:
    """Score every row of ``frame`` in one pass and build the evaluation result."""
    scored = detector.score(frame)
    similarity = [finite_or_none(v) for v in scored.similarity]
    result: dict[str, Any] = {
        "labels": [str(reference) for _ in similarity],
        "predicts": [str(v) for v in similarity],
        "scores": [finite_or_none(v) for v in scored.scores],
        "is_anomaly": [bool(v) for v in scored.labels],
        "threshold": finite_or_none(scored.threshold),
        "reference_similarity": reference,
        "rows": len(frame),
    }
    if label_column is not None:
        truth = anomaly_labels(frame[label_column], normal_value)
        result["label_column"] = label_column
        result["known_anomalies"] = int(truth.sum())
        result["roc_auc"] = roc_auc(truth, np.asarray(scored.scores, dtype=np.float64))
    return result


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
        self, nn_id: str, version: int, detector: AutoEncoderDetector, reference: float | None
    ) -> dict[str, Any] | None:
        """Evaluate ``detector`` on the version's evaluation data; ``None`` when there is none."""
        if not self.check(nn_id, version, detector.columns_):
            return None
        settings = self.settings(nn_id, version)
        frame = self._datasets.load_frame(nn_id, version, EVAL_DATA)
        return evaluation_result(
            detector, frame, reference, settings.get("label_column"), settings.get("normal_value")
        )

    def evaluate_active(self, nn_id: str, version: int) -> dict[str, Any]:
        """Re-evaluate the version's serving model on the current evaluation data and keep the
        result on its run (what ``result`` returns from then on)."""
        run = self._scoring.serving_run(nn_id, version)
        reference = run.metrics.get("reference_similarity")
        result = self.evaluate(nn_id, version, self._scoring.detector(run), reference)
        if result is None:
            raise InvalidInput(
                f"node 'evaldata' of version {version} of network {nn_id} holds no file: upload the "
                "evaluation CSV first",
                field="evaldata",
            )
        self._registry.update_run(run.run_id, {"result": result})
        return result

    def last_result(self, nn_id: str, version: int) -> dict[str, Any]:
        """The evaluation result of the version's serving model."""
        run = self._scoring.serving_run(nn_id, version)
        if run.result is None:
            raise NotFound(
                f"version {version} of network {nn_id} has no evaluation result yet: upload evaluation "
                f"data to node 'evaldata' and train, or POST /api/v1/type/runmanager/state/single/"
                f"nnid/{nn_id}/ver/{version}/node/eval_node/"
            )
        return run.result
