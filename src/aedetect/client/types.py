"""The JSON shapes the client returns (the ``*Public`` schemas of the native API), as TypedDicts."""

from __future__ import annotations

from typing import Any, TypedDict


class ColumnInfo(TypedDict):
    name: str
    kind: str
    missing_share: float
    distinct: int
    examples: list[Any]


class DatasetInfo(TypedDict, total=False):
    id: str
    name: str
    bytes: int
    rows: int
    columns: list[ColumnInfo]
    created_at: str
    preview: list[dict[str, Any]]
    format: dict[str, Any] | None


class ModelInfo(TypedDict):
    name: str
    description: str
    dataset: str | None
    columns: list[str] | None
    categorical: list[str] | None
    params: dict[str, Any]
    eval_dataset: str | None
    label_column: str | None
    normal_value: Any
    auto_promote: bool
    aliases: dict[str, int]
    latest_version: int | None
    training: bool
    created_at: str | None
    updated_at: str | None


class JobInfo(TypedDict):
    id: str
    kind: str
    model: str | None
    status: str
    progress: dict[str, Any]
    version: int | None
    error: str | None
    result: dict[str, Any] | None
    result_url: str | None
    cancel_requested: bool
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    worker: str | None


class ThresholdInfo(TypedDict):
    value: float
    strategy: str
    inputs: dict[str, Any]
    actor: str | None
    note: str | None
    created_at: str | None


class VersionInfo(TypedDict):
    version: int
    model: str
    run_id: str
    job_id: str | None
    dataset: str | None
    rows: int | None
    columns: list[dict[str, str]]
    params: dict[str, Any]
    history: dict[str, list[float | None]] | None
    training_time_s: float | None
    threshold: ThresholdInfo | None
    metrics: dict[str, Any]
    aliases: list[str]
    created_at: str | None
    finished_at: str | None


class AliasInfo(TypedDict):
    alias: str
    version: int | None
    history: list[dict[str, Any]]


class ScoredRowInfo(TypedDict):
    score: float | None
    is_anomaly: bool
    threshold: float
    similarity: float | None
    cosine_similarity: float | None
    contributions: list[dict[str, Any]]


class ScoreAnswer(TypedDict):
    model: str
    version: int | None
    threshold: float
    rows: list[ScoredRowInfo]


class EvaluationInfo(TypedDict, total=False):
    rows: int
    anomalies: int
    threshold: float | None
    roc_auc: float | None
    average_precision: float | None
    precision: float
    recall: float
    f1: float
    confusion: dict[str, int]
    quantiles: dict[str, Any]
    dataset: str
    label_column: str
    version: int | None
    baseline: dict[str, Any] | None
    baseline_unavailable: str | None


class LoggedScoreInfo(TypedDict, total=False):
    id: int
    version: int | None
    time: str
    score: float | None
    is_anomaly: bool
    threshold: float
    contributions: list[dict[str, Any]]
    values: dict[str, Any]
    sampled: bool
    source: str


class ScoreLogInfo(TypedDict):
    items: list[LoggedScoreInfo]
    next: str | None
    gaps: list[dict[str, Any]]
    log: dict[str, Any]


class DriftInfo(TypedDict):
    model: str
    version: int | None
    threshold: float
    window: dict[str, Any]
    rows: int
    sampled_rows: int
    verdict: str
    anomaly_rate: dict[str, Any]
    scores: dict[str, Any]
    columns: list[dict[str, Any]]
    limits: dict[str, list[float]]


class FeedbackInfo(TypedDict):
    id: int
    log_id: int | None
    label: str
    note: str | None
    actor: str | None
    version: int | None
    score: float | None
    is_anomaly: bool | None
    threshold: float | None
    scored_at: str | None
    values: dict[str, Any] | None
    created_at: str | None
    updated_at: str | None


class FeedbackPageInfo(TypedDict):
    items: list[FeedbackInfo]
    next: str | None
    labelled: int
    precision: float | None
    recall: float | None
    false_alarm_rate: float | None
    confirmed_anomalies: int
    false_alarms: int
    missed_anomalies: int
    confirmed_normals: int
    version: int | None
    threshold: float | None
    unscored: int


class ProposalInfo(TypedDict):
    strategy: str
    value: float
    inputs: dict[str, Any]
    current: dict[str, Any]
    proposed: dict[str, Any]
