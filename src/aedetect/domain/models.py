"""Dataclasses and enums of the domain: networks, versions, workflow nodes, training runs (model
versions), threshold revisions, alias moves, datasets, jobs, column specifications and scoring results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


class ColumnKind(enum.StrEnum):
    """How a column is encoded."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnSpec:
    """One input column as the model sees it."""

    name: str
    kind: ColumnKind


class JobStatus(enum.StrEnum):
    """Life cycle of a job and of the training run it drives."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class VersionCondition(enum.StrEnum):
    """The old system's version state codes, kept on the wire as strings."""

    PENDING = "1"
    PROGRESS = "2"
    FINISHED = "3"
    ERROR = "4"


@dataclass
class Network:
    """A named anomaly-detection project (``nn_id``) with its descriptive fields."""

    nn_id: str
    biz_cate: str = ""
    biz_sub_cate: str = ""
    nn_title: str = ""
    nn_desc: str = ""
    use_flag: str = "Y"
    dir: str = ""
    config: str = ""
    auto_promote: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Version:
    """A numbered workflow version of a network."""

    nn_id: str
    version: int
    info: str = ""
    desc: str = ""
    condition: VersionCondition = VersionCondition.PENDING
    active: bool = False
    def_list_nn_id: str = ""
    workflow_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Node:
    """One node of a version's workflow graph and its stored settings."""

    nn_id: str
    version: int
    name: str
    kind: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return f"{self.nn_id}_{self.version}_{self.name}"


@dataclass
class ThresholdRevision:
    """One setting of a model version's threshold: the value, how it was chosen (``strategy`` and
    its ``inputs``), when, and who and why (``actor``, ``note``; optional). The newest revision of a
    run is the threshold its verdicts use."""

    revision_id: int
    run_id: str
    value: float
    strategy: str
    inputs: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    note: str | None = None
    created_at: datetime | None = None


@dataclass
class AliasMove:
    """A recorded move of a model alias (``production`` included): from which model version to which."""

    nn_id: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str | None = None
    note: str | None = None
    moved_at: datetime | None = None


@dataclass
class Dataset:
    """An uploaded CSV file kept as a dataset, with its inferred schema.

    ``columns`` holds per column its ``name``, ``kind``, ``missing_share``, ``distinct`` count and
    ``examples``; ``path`` is where the file lives, relative to the data directory; ``format``
    how the upload was read (``kind`` csv/xlsx/xls, ``sheet``, ``encoding``, ``delimiter``,
    ``decimal``), empty for datasets kept before it was recorded.
    """

    dataset_id: str
    name: str
    bytes: int
    rows: int
    columns: list[dict[str, Any]]
    path: str
    created_at: datetime | None = None
    format: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingRun:
    """One execution of a version's workflow; when it succeeds it holds a model.

    ``network_version`` is the network version whose workflow it ran (v1's ``ver``); ``run_id`` is
    ``<nn_id>_<network_version>_<seq>`` (the old system's batch id). ``active`` marks the model that
    serves predictions for its network version (at most one per version). A succeeded run gets
    the next ``model_version`` of its network (the native API's numbered model version); reads that
    serve scoring also fill ``threshold`` with its current threshold revision.
    """

    run_id: str
    nn_id: str
    network_version: int
    seq: int
    status: JobStatus = JobStatus.QUEUED
    active: bool = False
    job_id: str | None = None
    model_path: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    model_version: int | None = None
    threshold: ThresholdRevision | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class Job:
    """A unit of background work. Only ``job_id``, ``kind`` and JSON ``params`` cross a queue.

    ``model`` names the model (network) the job works on; ``cancel_requested`` asks a running job
    to stop before its next batch. ``worker`` names the process that claimed it, and
    ``heartbeat_at`` is when that worker last renewed its lease (job runners with leases only)."""

    job_id: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    model: str | None = None
    cancel_requested: bool = False
    progress: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    heartbeat_at: datetime | None = None


@dataclass
class ScoreResult:
    """Everything one scoring pass produces, one entry per input row.

    ``scores``: anomaly score (higher = more anomalous); ``labels``: 0/1 against ``threshold``;
    ``similarity``: cosine similarity of encoded input and reconstruction (higher = more normal);
    ``contributions``: rows x original columns, the per-column parts of the score.
    """

    scores: np.ndarray
    labels: np.ndarray
    threshold: float
    similarity: np.ndarray
    contributions: np.ndarray
    columns: list[str]

    def top_columns(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` columns contributing most to each row and their shares of its score: see
        :func:`top_contributions`."""
        return top_contributions(self.contributions, self.scores, k)


def top_contributions(contributions: Any, scores: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices of the ``k`` largest ``contributions`` (most first; ties keep column
    order; NaN last) and each one's share of the row's score: NaN where the share is not finite
    or the score is not above 0, so a perfect reconstruction has no shares to show."""
    parts = np.nan_to_num(np.asarray(contributions, dtype=np.float64), nan=-np.inf)
    total = np.asarray(scores, dtype=np.float64)[:, None]
    order = np.argsort(-parts, axis=1, kind="stable")[:, :k]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.take_along_axis(parts, order, axis=1) / total
    return order, np.where(np.isfinite(shares) & (total > 0), shares, np.nan)
