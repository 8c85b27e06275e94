"""Training runs: planned (:mod:`.plan`), submitted and reported on by :class:`TrainingService`
(:mod:`.service`), executed by :class:`TrainingExecutor` as a job of the job runner
(:mod:`.executor`), and their outcome recorded (:mod:`.record`).

A succeeded run is the network's next numbered model version: it records what it was trained on
(dataset, rows, columns and kinds, parameters after defaults, and, when asked, the operator
feedback added and removed), its loss history and training time, its first threshold revision and
the IsolationForest baseline fitted on the same rows. Its model directory holds the training
profile beside the detector (:mod:`aedetect.data.profile`), which drift reports compare with.
"""

from aedetect.services.training.executor import CANCEL_POLL_S, PROGRESS_INTERVAL_S, STOPPED, TrainingExecutor
from aedetect.services.training.plan import NATIVE_PARAMS, plan_run
from aedetect.services.training.record import utcnow
from aedetect.services.training.service import TRAIN_JOB, TrainingService

__all__ = [
    "CANCEL_POLL_S",
    "NATIVE_PARAMS",
    "PROGRESS_INTERVAL_S",
    "STOPPED",
    "TRAIN_JOB",
    "TrainingExecutor",
    "TrainingService",
    "plan_run",
    "utcnow",
]
