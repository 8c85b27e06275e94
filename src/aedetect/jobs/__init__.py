"""Background jobs: the :class:`JobRunner` interface and the in-process :class:`EmbeddedJobRunner`."""

from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.embedded import EmbeddedJobRunner

__all__ = ["EmbeddedJobRunner", "JobHandler", "JobRunner"]
