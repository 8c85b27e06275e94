"""Plain data shared by every layer: no I/O, no framework types."""

from aedetect.domain.access import ApiKey, AuditEntry, Role
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
    top_contributions,
)
from aedetect.domain.monitoring import Feedback, FeedbackLabel, LogGap, ScoreRecord
from aedetect.domain.names import JOB_RUNNERS, PRODUCTION, JobRunnerName

__all__ = [
    "JOB_RUNNERS",
    "PRODUCTION",
    "AliasMove",
    "ApiKey",
    "AuditEntry",
    "ColumnKind",
    "ColumnSpec",
    "Dataset",
    "Feedback",
    "FeedbackLabel",
    "Job",
    "JobRunnerName",
    "JobStatus",
    "LogGap",
    "Network",
    "Node",
    "Role",
    "ScoreRecord",
    "ScoreResult",
    "ThresholdRevision",
    "TrainingRun",
    "Version",
    "VersionCondition",
    "top_contributions",
]
