"""Plain data shared by every layer: no I/O, no framework types."""

from aedetect.domain.access import ApiKey, AuditEntry, Role
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
    "ApiKey",
    "AuditEntry",
    "ColumnKind",
    "ColumnSpec",
    "Job",
    "JobStatus",
    "Network",
    "Node",
    "Role",
    "ScoreResult",
    "TrainingRun",
    "Version",
    "VersionCondition",
]
