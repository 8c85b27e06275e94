"""Names every layer shares, defined once: the serving alias and the job runners."""

from __future__ import annotations

from typing import Literal, get_args

PRODUCTION = "production"
"""The model alias that serves predictions (the v1 API's active version and run)."""

JobRunnerName = Literal["embedded", "celery"]
"""Where training and batch scoring run: threads in the server process, or Celery workers."""

JOB_RUNNERS: tuple[str, ...] = get_args(JobRunnerName)
"""The job runners a deployment may choose (``AEDETECT_JOB_RUNNER``)."""
