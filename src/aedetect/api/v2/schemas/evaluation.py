"""Bodies of a version's evaluation and score histogram routes: metrics on labelled data beside
the IsolationForest baseline."""

from __future__ import annotations

from typing import Literal

from aedetect.api.v2.schemas.common import DATASET_EXAMPLE, F, Public, Request


class Confusion(Public):
    tp: int = F("Anomalies flagged.", 9120)
    fp: int = F("Normal rows flagged.", 310)
    tn: int = F("Normal rows passed.", 9401)
    fn: int = F("Anomalies missed.", 3713)


class HistogramPart(Public):
    rows: int = F("Rows counted.", 1500)
    counts: list[int] = F("Rows per bin (bin i spans edges[i] to edges[i+1]).", [12, 340, 101])
    nonfinite: int = F("Rows without a finite score (in no bin).", 0)


class ScoreHistogram(Public):
    version: int | None = F("Model version.", 3)
    threshold: float = F("The threshold in force.", 3.2)
    spacing: Literal["linear", "log"] = F(
        "How the edges are spaced: log (by ratio) when every score is positive with a long tail.", "log"
    )
    edges: list[float] = F("Bin edges, ascending (one more than bins).", [0.1, 1.0, 10.0, 100.0])
    training: HistogramPart = F("The version's training scores.", {"rows": 3, "counts": [1, 1, 1]})
    dataset: str | None = F("The dataset also counted, if any.", DATASET_EXAMPLE)
    label_column: str | None = F("Its label column, if any.", "label")
    normal: HistogramPart | None = F("The dataset's normal rows (all its rows without a label column).", None)
    anomaly: HistogramPart | None = F("The dataset's known anomalies (with a label column).", None)


class Quantiles(Public):
    min: float | None = F("Lowest score.", 0.4)
    p25: float | None = F("25th percentile.", 1.1)
    median: float | None = F("Median.", 1.6)
    p75: float | None = F("75th percentile.", 2.4)
    p95: float | None = F("95th percentile.", 5.0)
    p99: float | None = F("99th percentile.", 9.3)
    max: float | None = F("Highest score.", 88.0)


class ClassQuantiles(Public):
    normal: Quantiles | None = F("Score quantiles of the normal rows.", None)
    anomaly: Quantiles | None = F("Score quantiles of the known anomalies.", None)


class Metrics(Public):
    rows: int = F("Rows evaluated.", 22544)
    anomalies: int = F("Known anomalies among them.", 12833)
    threshold: float | None = F("Threshold of the verdicts.", 3.2)
    roc_auc: float | None = F("Area under the ROC curve (null unless both classes occur).", 0.91)
    average_precision: float | None = F("Average precision (null unless both classes occur).", 0.93)
    precision: float = F("Share of flagged rows that are anomalies.", 0.967)
    recall: float = F("Share of anomalies flagged.", 0.711)
    f1: float = F("Harmonic mean of precision and recall.", 0.819)
    confusion: Confusion = F(
        "Confusion matrix at the threshold.", {"tp": 9120, "fp": 310, "tn": 9401, "fn": 3713}
    )
    quantiles: ClassQuantiles = F("Score quantiles per class.", {"normal": None, "anomaly": None})


class BaselineMetrics(Metrics):
    detector: Literal["IsolationForest"] = F("The baseline detector.", "IsolationForest")


class EvaluateRequest(Request):
    dataset: str = F("Labelled dataset to evaluate on.", DATASET_EXAMPLE)
    label_column: str = F("Column marking known anomalies.", "label")
    normal_value: str | int | float | None = F("The label column's value on normal rows.", "normal", None)


class Evaluation(Metrics):
    dataset: str = F("Dataset evaluated on.", DATASET_EXAMPLE)
    label_column: str = F("Label column used.", "label")
    version: int | None = F("Model version evaluated.", 3)
    baseline: BaselineMetrics | None = F("The IsolationForest fitted on the same training rows.", None)
    baseline_unavailable: str | None = F("Why there is no baseline, when there is none.", None, None)
