"""Thresholds without retraining, and evaluation of a model version on any labelled dataset.

A threshold change is a new revision row (value, strategy, inputs, when, who and why): scoring
reads the newest with the serving run, so it takes effect at once in every process. Strategies:

* ``contamination``: the ``1 - contamination`` quantile of the version's training scores;
* ``value``: the number given;
* ``fpr``: the smallest threshold whose false-positive rate on a dataset is at most ``target``
  (its normal rows per ``label_column``, or all rows when it has none: assumed normal);
* ``best_f1``: the threshold with the best F1 on a labelled dataset;
* ``feedback``: from the operators' labels of the model's rows (:mod:`aedetect.services.feedback`),
  the lowest threshold whose alarms reach ``target_precision``, or at which at most
  ``target_false_alarm_rate`` of the rows confirmed normal are alarms.

:meth:`ThresholdService.propose` gives the value any strategy would choose, with what it would have
given (alarm rate on the training scores, the feedback figures), without recording it.

For choosing one by eye (the dashboard's threshold editor) it also gives the histogram of a
version's training scores (and of a dataset's scores per class) and what any threshold would flag
there, with precision, recall and F1 when the dataset is labelled. A dataset's scores under a
version are kept for a while (both never change), so moving a threshold back and forth is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import ThresholdRevision, TrainingRun
from aedetect.errors import Conflict, Hint, InvalidInput, quoted
from aedetect.registry.base import Registry
from aedetect.services.baseline import Baseline, fingerprint, fit_baseline
from aedetect.services.cache import RecentCache
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.datasets import DatasetService
from aedetect.services.evaluation import anomaly_labels, assessment, verdict_metrics
from aedetect.services.feedback import (
    MIN_LABELLED,
    FeedbackService,
    feedback_frame,
    figures,
    precision_threshold,
)
from aedetect.services.paths import DataPaths
from aedetect.services.scoring import ScoringService, current_threshold, run_key
from aedetect.services.workflow import TRAIN_DATA
from aedetect.storage import ArtifactStore

STRATEGIES = ("contamination", "value", "fpr", "best_f1", "feedback")

CACHED_FORESTS = 4
CACHED_SCORES = 8
"""Refitted baselines and dataset scores kept (by version, and by version and dataset)."""

MAX_BINS = 200
LOG_SPAN = 100.0
"""Histogram bins are spaced by ratio when every score is positive and the largest is more than
this many times the smallest (anomaly scores have a long tail), else evenly."""


def histogram_edges(scores: np.ndarray, bins: int, include: Sequence[float] = ()) -> tuple[np.ndarray, str]:
    """``bins + 1`` edges over the finite ``scores`` and the ``include`` values, and the spacing:
    ``log`` (by ratio) for a long positive tail, else ``linear``."""
    finite = np.concatenate([scores[np.isfinite(scores)], [v for v in include if math.isfinite(v)]])
    if not finite.size:
        return np.linspace(0.0, 1.0, bins + 1), "linear"
    low, high = float(finite.min()), float(finite.max())
    if low > 0 and high / low > LOG_SPAN:
        return np.geomspace(low, high, bins + 1), "log"
    if high == low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1), "linear"


def histogram_part(scores: np.ndarray | None, edges: np.ndarray) -> dict[str, Any] | None:
    """Rows, counts per bin and rows without a finite score (``None`` for no scores)."""
    if scores is None:
        return None
    finite = scores[np.isfinite(scores)]
    counts, _ = np.histogram(finite, bins=edges)
    return {"rows": len(scores), "counts": [int(c) for c in counts], "nonfinite": len(scores) - len(finite)}


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
        feedback: FeedbackService,
    ) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self._catalog = catalog
        self._datasets = datasets
        self._scoring = scoring
        self._feedback = feedback
        self._baselines: RecentCache[Baseline] = RecentCache(CACHED_FORESTS)
        self._scores: RecentCache[tuple[np.ndarray, np.ndarray | None]] = RecentCache(CACHED_SCORES)

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

    def training_scores(
        self, run: TrainingRun, purpose: str = "use the contamination strategy", field: str = "strategy"
    ) -> np.ndarray:
        """The version's training scores, kept at training time."""
        key = self._paths.training_scores(run.nn_id, run.version, run.run_id)
        try:
            return np.asarray(np.load(self._store.local_file(key), allow_pickle=False), dtype=np.float64)
        except FileNotFoundError:
            raise Conflict(
                f"model version {run.model_version} was trained before training scores were kept: "
                f"train the model again to {purpose}",
                field=field,
            ) from None

    def dataset_scores(
        self, run: TrainingRun, dataset: str, label_column: str | None, normal_value: Any
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The scores of a dataset's rows under the version and the 0/1 truth of its label column
        (if named), kept for the next call (a dataset never changes, nor does a version)."""
        self._catalog.get(dataset)  # a dataset deleted meanwhile is a NotFound, cached or not
        detector = self._scoring.detector(run)
        key = run_key(run, dataset, label_column, normal_value)
        return self._scores.get(
            key, lambda: self._labelled_scores(detector, dataset, label_column, normal_value)[:2]
        )

    # --- thresholds ---------------------------------------------------------------------------
    def _choose(self, run: TrainingRun, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """The threshold ``body['strategy']`` chooses for ``run``, and what it used."""
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
        elif strategy == "feedback":
            value, inputs = self._from_feedback(run, detector, body)
        else:
            raise InvalidInput(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {quoted(strategy)}", field="strategy"
            )
        return value, inputs

    def _from_feedback(
        self, run: TrainingRun, detector: AutoEncoderDetector, body: dict[str, Any]
    ) -> tuple[float, dict[str, Any]]:
        judged = self._feedback.judged(run)
        target_field = (
            "target_precision" if body.get("target_precision") is not None else "target_false_alarm_rate"
        )
        if judged.scores.size < MIN_LABELLED:
            raise InvalidInput(
                f"model version {run.model_version} can judge {judged.scores.size} labelled row(s) "
                f"({judged.unscored} without values it can score); the feedback strategy needs at least "
                f"{MIN_LABELLED}: label more scored rows of model '{run.nn_id}' as anomaly or normal",
                field=target_field,
                hint=Hint("add_feedback", model=run.nn_id),
            )
        current = current_threshold(run, detector)
        if target_field == "target_precision":
            value = precision_threshold(judged.scores, judged.truth, current, body["target_precision"])
        else:
            normal = judged.scores[~judged.truth]
            if not normal.size:
                raise InvalidInput(
                    "no labelled row is confirmed normal: label some as normal to target a false-alarm rate",
                    field=target_field,
                )
            value = fpr_threshold(normal, body["target_false_alarm_rate"])
        inputs = {
            target_field: body[target_field],
            "labelled": int(judged.scores.size),
            "unscored": judged.unscored,
            "achieved": figures(judged.truth, judged.scores > value),
        }
        return value, inputs

    def set(
        self, run: TrainingRun, body: dict[str, Any], actor: str | None = None, note: str | None = None
    ) -> ThresholdRevision:
        """A new threshold revision of ``run`` chosen by ``body['strategy']``."""
        value, inputs = self._choose(run, body)
        inputs["previous"] = current_threshold(run, self._scoring.detector(run))
        return self._registry.add_threshold(
            run.run_id, value, str(body.get("strategy")), inputs, actor=actor, note=note
        )

    def propose(self, run: TrainingRun, body: dict[str, Any]) -> dict[str, Any]:
        """The threshold a strategy would choose and what it would have given beside the current
        one: the alarm rate on the training scores and, when the model has labels, the feedback
        figures (as this version judges the labelled rows). Nothing is recorded."""
        value, inputs = self._choose(run, body)
        current = current_threshold(run, self._scoring.detector(run))
        try:
            training = self.training_scores(run)
        except Conflict:
            training = None
        judged = self._feedback.judged(run)

        def given(threshold: float) -> dict[str, Any]:
            return {
                "threshold": threshold,
                "training_alarm_rate": None if training is None else float(np.mean(training > threshold)),
                "feedback": figures(judged.truth, judged.scores > threshold) if judged.scores.size else None,
            }

        return {
            "strategy": str(body.get("strategy")),
            "value": value,
            "inputs": inputs,
            "current": given(current),
            "proposed": given(value),
        }

    def history(self, run: TrainingRun) -> list[ThresholdRevision]:
        """Every threshold revision of the version, oldest first."""
        return self._registry.list_thresholds(run.run_id)

    # --- choosing by eye ----------------------------------------------------------------------
    def _scores_for_view(
        self, run: TrainingRun, dataset: str | None, label_column: str | None, normal_value: Any
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None] | None]:
        if label_column is not None and dataset is None:
            raise InvalidInput("label_column needs a dataset to read it from", field="label_column")
        training = self.training_scores(run, "see its training scores", field="version")
        labelled = None if dataset is None else self.dataset_scores(run, dataset, label_column, normal_value)
        return training, labelled

    def histogram(
        self,
        run: TrainingRun,
        bins: int,
        dataset: str | None = None,
        label_column: str | None = None,
        normal_value: Any = None,
    ) -> dict[str, Any]:
        """Histogram of the version's training scores and, with ``dataset``, of that dataset's
        scores per class (without ``label_column`` every row counts as normal, as the ``fpr``
        strategy takes it), on common edges that also cover the threshold in force."""
        if not 1 <= bins <= MAX_BINS:
            raise InvalidInput(f"bins must be from 1 to {MAX_BINS}, got {bins}", field="bins")
        training, labelled = self._scores_for_view(run, dataset, label_column, normal_value)
        threshold = current_threshold(run, self._scoring.detector(run))
        pooled = training if labelled is None else np.concatenate([training, labelled[0]])
        edges, spacing = histogram_edges(pooled, bins, [threshold])
        normal = anomaly = None
        if labelled is not None:
            scores, truth = labelled
            normal = scores if truth is None else scores[truth == 0]
            anomaly = None if truth is None else scores[truth == 1]
        return {
            "version": run.model_version,
            "threshold": threshold,
            "spacing": spacing,
            "edges": [float(e) for e in edges],
            "training": histogram_part(training, edges),
            "dataset": dataset,
            "label_column": label_column,
            "normal": histogram_part(normal, edges),
            "anomaly": histogram_part(anomaly, edges),
        }

    def preview(
        self,
        run: TrainingRun,
        value: float,
        dataset: str | None = None,
        label_column: str | None = None,
        normal_value: Any = None,
    ) -> dict[str, Any]:
        """What the threshold ``value`` would flag, without setting it: training rows and, with
        ``dataset``, its rows, with precision, recall, F1 and confusion when ``label_column`` is named."""
        if not math.isfinite(value):
            raise InvalidInput("value must be a finite number", field="value")
        training, labelled = self._scores_for_view(run, dataset, label_column, normal_value)
        result: dict[str, Any] = {
            "value": value,
            "current": current_threshold(run, self._scoring.detector(run)),
            "training": _flagged(training, value),
            "dataset": dataset,
            "label_column": label_column,
            "evaluation": None,
        }
        if labelled is not None:
            scores, truth = labelled
            result["evaluation"] = {
                **_flagged(scores, value),
                **(
                    {}
                    if truth is None
                    else {"anomalies": int(truth.sum()), **verdict_metrics(truth, scores, value)}
                ),
            }
        return result

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
            used = run.metrics.get("feedback")
            if isinstance(used, dict):  # the same labels as at training time (a changed one shows)
                ids = set(used.get("feedback_ids", []))
                items = [i for i in self._registry.list_feedback(run.nn_id) if i.feedback_id in ids]
                frame, _ = feedback_frame(frame, items, detector.columns_)
            params = run.metrics["params"]
            return fit_baseline(
                frame,
                detector.column_kinds_,
                params["vocab_size"],
                params["numeric_transform"],
                detector.contamination,
            )

        baseline = self._baselines.get(run_key(run), build)
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


def _flagged(scores: np.ndarray, value: float) -> dict[str, Any]:
    """Rows and how many (and what share) score above ``value``."""
    flagged = int(np.sum(scores > value))
    return {"rows": len(scores), "flagged": flagged, "share": flagged / len(scores) if len(scores) else 0.0}
