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
