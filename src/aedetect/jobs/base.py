"""The job runner interface. A job is a row in the registry (written before it is queued); the
runner receives only its id and kind and calls the handler registered for that kind, which loads
the JSON parameters from the registry and records status and result there."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

JobHandler = Callable[[str], None]
"""Runs one job given its id; raises on failure (the runner records the error)."""


class JobRunner(ABC):
    """Executes queued jobs."""

    @abstractmethod
    def submit(self, job_id: str, kind: str) -> None:
        """Queue the job; returns at once."""

    @abstractmethod
    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job has finished (succeeded or failed) or ``timeout`` seconds pass."""

    def stop(self) -> None:
        """Ask the jobs this process runs to end early (at a stop signal, before
        :meth:`shutdown`); returns at once. By default nothing: the jobs run elsewhere."""
        return None

    @abstractmethod
    def shutdown(self) -> None:
        """Stop accepting jobs and wait for the running ones."""
