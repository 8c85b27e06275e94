"""A job's life cycle, the same whichever runner delivers it: claim it (queued -> running, one
atomic registry update, so a second delivery does nothing), run the handler registered for its
kind, and record how it ended: SUCCEEDED (unless the handler wrote a final status itself),
CANCELLED when the handler stopped on request, FAILED with the error message when it raised
anything else. A final status is never overwritten (a job failed meanwhile for a lost lease stays
failed). Every failure is logged with its traceback; none is dropped.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from aedetect.domain import JobStatus
from aedetect.errors import AedetectError, Cancelled
from aedetect.jobs.base import JobHandler

if TYPE_CHECKING:
    from aedetect.jobs.lease import Lease
    from aedetect.registry.base import Registry

logger = logging.getLogger(__name__)


def error_message(exc: BaseException) -> str:
    """What a failed job records: a domain error's own message, otherwise ``<ExcType>: <message>``."""
    if isinstance(exc, AedetectError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def execute_job(
    registry: Registry,
    handler: JobHandler,
    job_id: str,
    kind: str,
    *,
    worker: str | None = None,
    lease: Lease | None = None,
) -> bool:
    """Claim and run one job; ``False`` when it was not claimed (delivered again, or cancelled
    before it started). Only an interpreter-exit exception (``SystemExit``, ``KeyboardInterrupt``)
    propagates, after it is recorded."""
    try:
        if not registry.start_job(job_id, worker):
            logger.info("job %s (%s) not claimed: it is no longer queued", job_id, kind)
            return False
        held: AbstractContextManager[object] = nullcontext() if lease is None else lease.hold(job_id)
        with held:
            handler(job_id)
    except Cancelled as exc:
        logger.info("job %s (%s) cancelled: %s", job_id, kind, exc)
        _record(registry, job_id, JobStatus.CANCELLED, error_message(exc))
        return True
    except BaseException as exc:
        logger.exception("job %s (%s) failed", job_id, kind)
        _record(registry, job_id, JobStatus.FAILED, error_message(exc))
        if not isinstance(exc, Exception):
            raise
        return True
    _record(registry, job_id, JobStatus.SUCCEEDED)
    logger.info("job %s (%s) finished", job_id, kind)
    return True


def _record(registry: Registry, job_id: str, status: JobStatus, error: str | None = None) -> None:
    """Write a final status with ``finished_at`` unless the job has one; a registry failure here
    is logged, not lost."""
    try:
        registry.finish_job(job_id, status, error)
    except Exception:
        logger.exception("could not record the end of job %s (%s)", job_id, status.value)
