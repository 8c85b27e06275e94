"""Plain data shared by every layer: no I/O, no framework types."""

from aedetect.domain.models import (
    ColumnKind,
    ColumnSpec,
    Job,
    JobStatus,
    Network,
    Node,
    ScoreResult,
    TrainingRun,
    Version,
    VersionCondition,
)

__all__ = [
    "ColumnKind",
    "ColumnSpec",
    "Job",
    "JobStatus",
    "Network",
    "Node",
    "ScoreResult",
    "TrainingRun",
    "Version",
    "VersionCondition",
]
