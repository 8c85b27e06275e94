"""Bodies of the monitoring routes: the scoring log, its gaps, drift against training and the
training profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aedetect.api.v2.schemas.common import WHEN, F, Public, Scalar


class TopColumn(Public):
    column: str = F("Model column.", "src_bytes")
    share: float | None = F("Its share of the row's score.", 0.82)


class LoggedScore(Public):
    id: int = F("Log id of the row (feedback refers to it).", 81234)
    version: int | None = F("Model version that scored it.", 3)
    time: datetime = F("When it was scored (UTC).", WHEN)
    score: float | None = F("Anomaly score.", 41.7)
    is_anomaly: bool = F("The verdict it got.", True)
    threshold: float = F("The threshold in force then.", 3.2)
    contributions: list[TopColumn] = F("The top 3 contributing columns, most first.", [])
    values: dict[str, Scalar] | None = F(
        "The row's model-column values, when kept (a sampled share of rows, and every alarm).",
        {"src_bytes": 5_000_000},
        None,
    )
    sampled: bool = F("Whether the values were kept by the uniform sample (drift reads those).", True)
    source: Literal["v1", "v2", "csv"] = F("Which API scored it: v1 predict, v2 JSON or a CSV body.", "v2")
    truncated: list[str] | None = F(
        "Columns whose value was longer than the log keeps (AEDETECT_LOG_VALUE_CHARS): the value "
        "shown is cut to that many characters, the last one '\u2026'. Absent when none was cut.",
        ["comment"],
        None,
    )


class LogGapPublic(Public):
    first_at: datetime = F("First row not logged (UTC).", WHEN)
    last_at: datetime = F("Last row not logged (UTC).", WHEN)
    rows: int = F("Rows scored but not logged.", 120)
    reason: Literal["queue_full", "store_error"] = F(
        "queue_full: more rows waited than AEDETECT_LOG_QUEUE_ROWS; store_error: the store refused "
        "the write.",
        "store_error",
    )
    detail: str | None = F("What the store said.", "the store refused the write (IntegrityError)")


class LogStatus(Public):
    enabled: bool = F("Whether this process logs scored rows (AEDETECT_LOG_ENABLED).", True)
    sample: float = F("Share of rows whose values are kept (AEDETECT_LOG_SAMPLE).", 1.0)
    queued: int = F("Rows waiting to be written.", 0)
    capacity: int = F("Most rows that may wait (AEDETECT_LOG_QUEUE_ROWS).", 100_000)
    written: int = F("Rows this process wrote since it started.", 51_200)
    dropped: int = F("Rows not logged because the queue was full.", 0)
    failed: int = F("Rows not logged because the store refused the write.", 0)
    pending_gap_rows: int = F("Rows of gaps not yet recorded in the registry.", 0)


class ScoreLogPage(Public):
    items: list[LoggedScore] = F("One page of logged rows, newest first.", [])
    next: str | None = F("Cursor of the next page (pass it as ?cursor=), null at the end.", None)
    gaps: list[LogGapPublic] = F("Rows of this model scored in the window but not logged.", [])
    log: LogStatus = F("The scoring log of the process that answered.", None)


class DriftWindow(Public):
    since: datetime = F("Start of the window (UTC, included).", WHEN)
    until: datetime = F("End of the window (UTC, excluded).", WHEN)
    duration: str | None = F("The window as asked (null when given by since).", "24h")


VerdictName = Literal["stable", "watch", "drifted", "no_data"]


class ColumnDriftPublic(Public):
    column: str = F("Model column.", "temperature")
    kind: Literal["numeric", "categorical"] = F("How the version encodes it.", "numeric")
    rows: int = F("Sampled rows compared.", 2400)
    psi: float | None = F("Population stability index against training.", 0.31)
    ks: float | None = F("Numeric: Kolmogorov-Smirnov statistic against training.", 0.24, None)
    unseen_share: float | None = F("Categorical: share of values outside the training categories.", 0.1, None)
    missing_share: float | None = F("Share of missing values in the window.", 0.0)
    training_missing_share: float = F("Share of missing values in training.", 0.0)
    verdict: VerdictName = F("stable, watch or drifted (no_data: nothing to compare).", "drifted")


class RatePoint(Public):
    since: datetime = F("Start of the interval (UTC).", WHEN)
    until: datetime = F("End of the interval (UTC).", WHEN)
    rows: int = F("Rows scored in it.", 100)
    anomalies: int = F("Alarms among them.", 2)
    rate: float | None = F("Their share (null without rows).", 0.02)


class AnomalyRate(Public):
    rows: int = F("Rows the version scored in the window.", 2400)
    anomalies: int = F("Alarms among them.", 170)
    observed: float | None = F("Their share.", 0.071)
    expected: float = F("Share of the training scores above the current threshold.", 0.01)
    ratio: float | None = F("observed / expected.", 7.1)
    verdict: VerdictName = F("Verdict on the rate.", "drifted")
    series: list[RatePoint] = F("The window in 24 intervals, for a chart.", [])


class ScoreShift(Public):
    rows: int = F("Scores compared.", 2400)
    psi: float | None = F("PSI over the training score deciles.", 0.4)
    ks: float | None = F("KS statistic against the training scores.", 0.3)
    median: float | None = F("Median score in the window.", 2.9)
    training_median: float | None = F("Median training score.", 1.1)
    verdict: VerdictName = F("Verdict on the score distribution.", "drifted")


class DriftReport(Public):
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version.", 3)
    threshold: float = F("The threshold in force.", 3.2)
    window: DriftWindow = F("The time window compared.", None)
    rows: int = F("Rows the version scored in the window.", 2400)
    sampled_rows: int = F("Rows whose values were compared per column.", 2400)
    verdict: VerdictName = F("The worst verdict of every figure.", "drifted")
    anomaly_rate: AnomalyRate = F("Anomaly rate against what the threshold expects.", None)
    scores: ScoreShift = F("Shift of the score distribution.", None)
    columns: list[ColumnDriftPublic] = F("Every model column, most drifted first.", [])
    limits: dict[str, list[float]] = F(
        "Watch and drift limits of each figure.", {"psi": [0.1, 0.25], "ks": [0.1, 0.2]}
    )


class ProfilePublic(Public):
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version.", 3)
    rows: int = F("Training rows.", 125_973)
    columns: list[dict[str, Any]] = F(
        "Per column: kind, missing_share and a numeric distribution (values with the training share at "
        "or below and below each) or category shares (with other_share and distinct).",
        [],
    )
    scores: dict[str, Any] | None = F("The distribution of the training scores.", None)
