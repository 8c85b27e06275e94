"""v1 training, single-node runs and evaluation results (``runmanager/...``, ``result/...``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from aedetect.api.deps import EvaluationDep, TrainingDep, VersionDep, WorkflowDep
from aedetect.api.v1.envelope import ERROR_ENVELOPE, V1Router, double_encoded
from aedetect.api.v2.problems import RETRY_AFTER_HEADER
from aedetect.domain import JobStatus
from aedetect.errors import InvalidInput, quoted
from aedetect.services.workflow import EVAL, NETCONF

router = V1Router(tags=["v1 runs"])

TRAIN = "/runmanager/state/train/nnid/{nnid}/ver/{ver}/"
SINGLE = "/runmanager/state/single/nnid/{nnid}/ver/{ver}/node/{node}/"
RESULT = "/result/nnid/{nnid}/ver/{ver}/"


QUEUE_FULL: dict[int | str, dict[str, Any]] = {
    429: {
        **double_encoded(
            "AEDETECT_MAX_QUEUED_TRAININGS trainings already wait: nothing was queued; send the request "
            "again after the Retry-After header's seconds.",
            ERROR_ENVELOPE,
        ),
        "headers": RETRY_AFTER_HEADER,
    }
}


@router.post(
    TRAIN,
    summary="Train the version's workflow and answer when it is done (a training still queued when the "
    "client hangs up is withdrawn)",
    responses=QUEUE_FULL,
)
async def train(nnid: str, ver: VersionDep, training: TrainingDep, request: Request) -> list[Any]:
    run = await training.train(nnid, ver, abandoned=request.is_disconnected)
    results: list[Any] = [None, None, f"{nnid}_{ver}_{NETCONF}", None, None]
    if run.result is not None:
        results.append(run.result)
    return results


@router.get(TRAIN, summary="What trains or waits to train")
def training_status(nnid: str, ver: VersionDep, training: TrainingDep) -> dict[str, Any]:
    jobs = training.unfinished_jobs()
    progress = {j.job_id: j.progress for j in jobs}
    run_ids = training.unfinished_run_ids()

    runs = [
        {
            "nn_batch_ver_id": r.run_id,
            "status": r.status.value,
            "progress": progress.get(r.job_id or "", {}),
            "creation_date": r.created_at.isoformat() if r.created_at else None,
        }
        for r in training.runs(nnid, ver)
        if not r.status.finished
    ]
    return {
        "scheduled": [],
        "active": run_ids[JobStatus.RUNNING],
        "reserved": run_ids[JobStatus.QUEUED],
        "runs": runs,
    }


@router.post(SINGLE, summary="Run one node; eval_node re-evaluates the serving model")
def run_single(
    nnid: str, ver: VersionDep, node: str, workflow: WorkflowDep, evaluation: EvaluationDep
) -> list[Any]:
    workflow.node(nnid, ver, node)
    if node != EVAL:
        raise InvalidInput(
            f"node {quoted(node)} cannot run on its own; only {EVAL} can (it re-evaluates the serving "
            "model). "
            f"Train the whole workflow with POST /api/v1/type/runmanager/state/train/nnid/{nnid}/ver/{ver}/",
            field="node",
        )
    return [evaluation.evaluate_active(nnid, ver)]


@router.get(RESULT, summary="The last evaluation of the version's serving model")
def result(nnid: str, ver: VersionDep, evaluation: EvaluationDep) -> dict[str, Any]:
    return evaluation.last_result(nnid, ver)
