"""v1 training, single-node runs and evaluation results (``runmanager/...``, ``result/...``)."""

from __future__ import annotations

from typing import Any

from aedetect.api.deps import EvaluationDep, TrainingDep, VersionDep, WorkflowDep
from aedetect.api.v1.envelope import V1Router
from aedetect.domain import JobStatus
from aedetect.errors import InvalidInput, quoted
from aedetect.services.workflow import EVAL, NETCONF

router = V1Router(tags=["v1 runs"])

TRAIN = "/runmanager/state/train/nnid/{nnid}/ver/{ver}/"
SINGLE = "/runmanager/state/single/nnid/{nnid}/ver/{ver}/node/{node}/"
RESULT = "/result/nnid/{nnid}/ver/{ver}/"


@router.post(TRAIN, summary="Train the version's workflow and answer when it is done")
async def train(nnid: str, ver: VersionDep, training: TrainingDep) -> list[Any]:
    run = await training.train(nnid, ver)
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
