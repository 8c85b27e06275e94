"""Thresholds without retraining, and evaluation of a model version on any labelled dataset.

A threshold change is a new revision row (value, strategy, inputs, when, who and why): scoring
reads the newest with the serving run, so it takes effect at once in every process. Strategies:

* ``contamination``: the ``1 - contamination`` quantile of the version's training scores;
* ``value``: the number given;
* ``fpr``: the smallest threshold whose false-positive rate on a dataset is at most ``target``
  (its normal rows per ``label_column``, or all rows when it has none: assumed normal);
* ``best_f1``: the threshold with the best F1 on a labelled dataset.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import ThresholdRevision, TrainingRun
from aedetect.errors import Conflict, InvalidInput, quoted
from aedetect.registry.base import Registry
from aedetect.services.baseline import Baseline, BaselineCache, fingerprint, fit_baseline
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.datasets import DatasetService
from aedetect.services.evaluation import anomaly_labels, assessment
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import ScoringService, current_threshold
from aedetect.services.workflow import TRAIN_DATA
from aedetect.storage import ArtifactStore

STRATEGIES = ("contamination", "value", "fpr", "best_f1")


def fpr_threshold(normal_scores: np.ndarray, target: float) -> float:
    """The smallest ``t`` with ``mean(normal_scores > t) <= target``."""
    ordered = np.sort(normal_scores)
    allowed = math.floor(target * len(ordered) + 1e-9)
    return float(ordered[len(ordered) - allowed - 1])


def best_f1_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The threshold ``t`` (one of the scores) whose verdicts ``score > t`` have the best F1, and that F1."""
    values, inverse = np.unique(scores, return_inverse=True)  # ascending
    positives = np.bincount(inverse, weights=truth, minlength=len(values))
    counts = np.bincount(inverse, minlength=len(values))
    # verdicts at t = values[j] flag every score above it: the groups after j (suffix sums)
    tp = np.concatenate([np.cumsum(positives[::-1])[::-1][1:], [0.0]])
    flagged = np.concatenate([np.cumsum(counts[::-1])[::-1][1:], [0]])
    total = float(truth.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(flagged + total > 0, 2 * tp / (flagged + total), 0.0)
    best = int(np.argmax(f1))
    return float(values[best]), float(f1[best])


class ThresholdService:
    """Threshold revisions and evaluations of model versions."""

    def __init__(
        self,
        registry: Registry,
        paths: DataPaths,
        store: ArtifactStore,
        catalog: DatasetCatalog,
        datasets: DatasetService,
        scoring: ScoringService,
    ) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self._catalog = catalog
        self._datasets = datasets
        self._scoring = scoring
        self._baselines = BaselineCache()

    # --- data ---------------------------------------------------------------------------------
    def _labelled_scores(
        self,
        detector: AutoEncoderDetector,
        dataset: str,
        label_column: str | None,
        normal_value: Any,
        baseline: Baseline | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Scores of a dataset's rows, the 0/1 truth of its label column (if named) and the
        baseline's scores (if given)."""
        columns = self._catalog.column_names(dataset)
        lacking = [c for c in detector.columns_ if c not in columns]
        if lacking:
            raise InvalidInput(
                f"dataset {dataset} lacks the model column(s) {', '.join(lacking[:10])}",
                field="dataset",
                column=lacking[0],
            )
        if label_column is not None and label_column not in columns:
            raise InvalidInput(
                f"label_column {quoted(label_column)} is not a column of dataset {dataset}",
                field="label_column",
                column=label_column,
            )
        frame = self._catalog.frame(dataset)
        truth = None if label_column is None else anomaly_labels(frame[label_column], normal_value)
        return (
            detector.decision_function(frame),
            truth,
            None if baseline is None else baseline.scores(frame),
        )

    def training_scores(self, run: TrainingRun) -> np.ndarray:
        """The version's training scores, kept at training time."""
        key = self._paths.training_scores(run.nn_id, run.version, run.run_id)
        try:
            return np.asarray(np.load(self._store.local_file(key), allow_pickle=False), dtype=np.float64)
        except FileNotFoundError:
            raise Conflict(
                f"model version {run.model_version} was trained before training scores were kept: "
                "train the model again to use the contamination strategy",
                field="strategy",
            ) from None

    # --- thresholds ---------------------------------------------------------------------------
    def set(
        self, run: TrainingRun, body: dict[str, Any], actor: str | None = None, note: str | None = None
    ) -> ThresholdRevision:
        """A new threshold revision of ``run`` chosen by ``body['strategy']``."""
        strategy = body.get("strategy")
        detector = self._scoring.detector(run)
        inputs: dict[str, Any]
        if strategy == "contamination":
            contamination = body["contamination"]
            value = float(np.quantile(self.training_scores(run), 1.0 - contamination))
            inputs = {"contamination": contamination}
        elif strategy == "value":
            value = float(body["value"])
            inputs = {}
        elif strategy == "fpr":
            target, dataset, label = body["target"], body["dataset"], body.get("label_column")
            scores, truth, _ = self._labelled_scores(detector, dataset, label, body.get("normal_value"))
            normal = scores if truth is None else scores[truth == 0]
            normal = normal[np.isfinite(normal)]
            if not normal.size:
                raise InvalidInput(
                    f"dataset {dataset} has no normal row to measure false positives on", field="dataset"
                )
            value = fpr_threshold(normal, target)
            inputs = {
                "target": target,
                "dataset": dataset,
                "label_column": label,
                "normal_rows": int(normal.size),
                "achieved_fpr": float(np.mean(normal > value)),
            }
        elif strategy == "best_f1":
            dataset, label = body["dataset"], body["label_column"]
            scores, truth, _ = self._labelled_scores(detector, dataset, label, body.get("normal_value"))
            assert truth is not None
            keep = np.isfinite(scores)
            if not 0 < int(truth[keep].sum()) < int(keep.sum()):
                raise InvalidInput(
                    f"label_column {quoted(label)} of dataset {dataset} must mark both normal and "
                    "anomalous rows",
                    field="label_column",
                    column=label,
                )
            value, f1 = best_f1_threshold(truth[keep], scores[keep])
            inputs = {"dataset": dataset, "label_column": label, "rows": int(keep.sum()), "f1": f1}
        else:
            raise InvalidInput(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {quoted(strategy)}", field="strategy"
            )
        inputs["previous"] = current_threshold(run, detector)
        return self._registry.add_threshold(run.run_id, value, str(strategy), inputs, actor=actor, note=note)

    def history(self, run: TrainingRun) -> list[ThresholdRevision]:
        """Every threshold revision of the version, oldest first."""
        return self._registry.list_thresholds(run.run_id)

    # --- evaluation ---------------------------------------------------------------------------
    def baseline(self, run: TrainingRun, detector: AutoEncoderDetector) -> tuple[Baseline | None, str | None]:
        """The version's IsolationForest, refitted from its training data; or ``None`` and why not."""
        recorded = run.metrics.get("baseline")
        if not isinstance(recorded, dict):
            return None, "this version was trained without a baseline; train the model again to get one"

        def build() -> Baseline:
            dataset = run.params.get("dataset")
            frame = (
                self._catalog.frame(dataset)
                if dataset
                else self._datasets.load_frame(run.nn_id, run.version, TRAIN_DATA)
            )
            params = run.metrics["params"]
            return fit_baseline(
                frame,
                detector.column_kinds_,
                params["vocab_size"],
                params["numeric_transform"],
                detector.contamination,
            )

        baseline = self._baselines.get(run.run_id, build)
        if fingerprint(baseline.training_scores) != recorded.get("fingerprint"):
            return None, "the training data changed since this version was trained, so its baseline is gone"
        return baseline, None

    def evaluate(
        self, run: TrainingRun, dataset: str, label_column: str, normal_value: Any = None
    ) -> dict[str, Any]:
        """ROC-AUC, average precision, precision/recall/F1 and confusion at the current threshold,
        score quantiles per class, and the same for the baseline."""
        detector = self._scoring.detector(run)
        baseline, reason = self.baseline(run, detector)
        scores, truth, baseline_scores = self._labelled_scores(
            detector, dataset, label_column, normal_value, baseline
        )
        assert truth is not None
        result = assessment(
            truth,
            scores,
            current_threshold(run, detector),
            baseline_scores,
            None if baseline is None else baseline.threshold,
        )
        result.update({"dataset": dataset, "label_column": label_column, "version": run.model_version})
        if reason is not None:
            result["baseline_unavailable"] = reason
        return result
