"""Background jobs: the :class:`JobRunner` interface and the :class:`EmbeddedJobRunner`, which runs
each job in a process of its own beside the server."""

from aedetect.jobs.base import JobHandler, JobRunner
from aedetect.jobs.embedded import EmbeddedJobRunner

__all__ = ["EmbeddedJobRunner", "JobHandler", "JobRunner"]
