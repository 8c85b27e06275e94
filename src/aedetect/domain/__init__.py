"""Plain data shared by every layer: no I/O, no framework types."""

from aedetect.domain.models import (
    AliasMove,
    ColumnKind,
    ColumnSpec,
    Dataset,
    Job,
    JobStatus,
    Network,
    Node,
    ScoreResult,
    ThresholdRevision,
    TrainingRun,
    Version,
    VersionCondition,
)

__all__ = [
    "AliasMove",
    "ColumnKind",
    "ColumnSpec",
    "Dataset",
    "Job",
    "JobStatus",
    "Network",
    "Node",
    "ScoreResult",
    "ThresholdRevision",
    "TrainingRun",
    "Version",
    "VersionCondition",
]
