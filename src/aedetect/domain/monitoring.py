"""Dataclasses of model operation: the scoring log, its gaps, and operator feedback."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class FeedbackLabel(enum.StrEnum):
    """What an operator says a scored row was."""

    ANOMALY = "anomaly"
    NORMAL = "normal"


@dataclass
class ScoreRecord:
    """One scored row as the scoring log keeps it. ``contributions`` holds the top columns
    (``{"column", "share"}``); ``values`` the row's model-column values when they were kept, and
    ``sampled`` whether they were kept by the uniform sample (drift reads only those: alarms keep
    their values too, and would bias the sample). ``source`` is ``v1``, ``v2`` or ``csv``."""

    nn_id: str
    run_id: str
    model_version: int | None
    scored_at: datetime
    score: float | None
    is_anomaly: bool
    threshold: float
    contributions: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] | None = None
    sampled: bool = False
    source: str = "v2"
    log_id: int | None = None
    truncated: list[str] | None = None
    """Columns whose value was longer than the log keeps: cut, ending in ``…`` (``None``: none)."""


@dataclass
class LogGap:
    """Rows that were scored but not logged: ``rows`` of model ``nn_id`` between ``first_at`` and
    ``last_at``, lost because the queue was full (``queue_full``) or the store refused the write
    (``store_error``, with the error in ``detail``)."""

    nn_id: str
    first_at: datetime
    last_at: datetime
    rows: int
    reason: str
    detail: str | None = None


@dataclass
class Feedback:
    """An operator's label of a scored row: a logged row (``log_id``) or one given with the label.
    It keeps a copy of what the row was scored with (version, score, verdict, values), so it
    outlives the log's retention and the model version."""

    feedback_id: int
    nn_id: str
    label: FeedbackLabel
    log_id: int | None = None
    note: str | None = None
    actor: str | None = None
    run_id: str | None = None
    model_version: int | None = None
    score: float | None = None
    is_anomaly: bool | None = None
    threshold: float | None = None
    scored_at: datetime | None = None
    values: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
