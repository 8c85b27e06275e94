"""v1 networks, versions and models (``common/target/nninfo/...``), in the NB-era shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aedetect.api.deps import ActorDep, NetworksDep, VersionDep
from aedetect.api.v1.envelope import V1Router
from aedetect.api.v1.schemas import ModelChoice, NetworkCreate, NetworkUpdate, VersionCreate, VersionUpdate
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput
from aedetect.services.networks import NetworkSummary, VersionSummary
from aedetect.services.paths import check_version

router = V1Router(tags=["v1 networks"])

BASE = "/common/target/nninfo/nnid/{nnid}/"
ALL = ("all", "%")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _flag(value: bool) -> str:
    return "Y" if value else "N"


def _model_acc(run: TrainingRun | None) -> Any:
    return run.metrics.get("roc_auc") if run is not None else None


def network_row(summary: NetworkSummary) -> dict[str, Any]:
    """One NB-era network row: the network, its active version and that version's serving model."""
    network, version, run = summary.network, summary.active_version, summary.serving_run
    return {
        "nn_id": network.nn_id,
        "biz_cate": network.biz_cate,
        "biz_sub_cate": network.biz_sub_cate,
        "nn_title": network.nn_title,
        "nn_desc": network.nn_desc,
        "use_flag": network.use_flag,
        "dir": network.dir,
        "config": network.config,
        "id": None,
        "nn_wf_ver_id": version.version if version else None,
        "nn_wf_ver_info": version.info if version else None,
        "condition": version.condition.value if version else None,
        "active_flag": "Y" if version else None,
        "nn_def_list_info_nn_id": version.def_list_nn_id if version else None,
        "nn_id_id": network.nn_id,
        "nn_batch_ver_id": run.run_id if run else None,
        "nn_batch_ver_info": None,
        "nn_ver_wflist_info_nn_ver": version.version if version else None,
        "nn_wf_ver_id_id": version.version if version else None,
        "model_acc": _model_acc(run),
        "train_progress": None,
        "job_end_time": _iso(run.finished_at) if run else None,
        "creation_date": _iso(network.created_at),
        "last_update_date": _iso(network.updated_at),
        "created_by": None,
        "last_updated_by": None,
        "m_state": "Action" if summary.training else "Close",
        "model_metrics": run.metrics if run else None,
    }


def version_row(summary: VersionSummary) -> dict[str, Any]:
    """One version row with its newest successful (train) and serving (pred) models."""
    version, latest, serving = summary.version, summary.latest_run, summary.serving_run
    return {
        "nn_id": version.nn_id,
        "nn_wf_ver_id": version.version,
        "active_flag": _flag(version.active),
        "nn_wf_ver_info": version.info,
        "nn_wf_ver_desc": version.desc,
        "condition": version.condition.value,
        "workflow_type": version.workflow_type,
        "train_batch_ver_id": latest.run_id if latest else None,
        "train_acc_info": _model_acc(latest),
        "train_loss_info": latest.metrics.get("train_loss") if latest else None,
        "t_result_info": None,
        "pred_batch_ver_id": serving.run_id if serving else None,
        "pred_acc_info": _model_acc(serving),
        "pred_loss_info": serving.metrics.get("train_loss") if serving else None,
        "p_result_info": None,
        "model": serving.run_id if serving else "N",
        "train_model_exists": "Y" if latest else "N",
        "pred_model_exists": "Y" if serving else "N",
    }


def run_row(run: TrainingRun) -> dict[str, Any]:
    """One model (training run) row of a version."""
    return {
        "nn_id_id": run.nn_id,
        "nn_id": run.nn_id,
        "nn_wf_ver_id": run.network_version,
        "nn_batch_ver_id": run.run_id,
        "active_flag": _flag(run.active),
        "eval_flag": _flag(run.active),
        "acc_info": _model_acc(run),
        "loss_info": run.metrics.get("train_loss"),
        "result_info": None,
        "model": run.run_id if run.model_path else "N",
        "model_exists": "Y" if run.model_path else "N",
        "status": run.status.value,
        "metrics": run.metrics,
        "error": run.error,
        "creation_date": _iso(run.created_at),
        "job_start_time": _iso(run.started_at),
        "job_end_time": _iso(run.finished_at),
    }


@router.post(BASE, summary="Create a network ('new' generates an id)")
def create_network(nnid: str, networks: NetworksDep, body: NetworkCreate | None = None) -> str:
    fields = body.model_dump(exclude_none=True) if body else {}
    return networks.create(nnid, fields).nn_id


@router.get(BASE, summary="List networks ('all') or one network, with active version and model")
def get_networks(nnid: str, networks: NetworksDep) -> list[dict[str, Any]]:
    found = networks.all() if nnid in ALL else [networks.get(nnid)]
    return [network_row(networks.summary(n)) for n in found]


@router.put(BASE, summary="Change a network's descriptive fields")
def update_network(nnid: str, body: NetworkUpdate, networks: NetworksDep) -> str:
    return networks.update(nnid, body.model_dump(exclude_none=True)).nn_id


@router.delete(BASE, summary="Delete a network with its versions, data and models")
def delete_network(nnid: str, networks: NetworksDep) -> str:
    networks.delete(nnid)
    return nnid


@router.post(BASE + "version/", summary="Create the network's next version")
def create_version(nnid: str, networks: NetworksDep, body: VersionCreate | None = None) -> str:
    body = body or VersionCreate()
    networks.create_version(
        nnid,
        info=body.nn_wf_ver_info or "",
        desc=body.nn_wf_ver_desc or "",
        condition=body.condition or "1",
        active=body.active_flag == "Y",
        def_list_nn_id=body.nn_def_list_info_nn_id or "",
    )
    return nnid


@router.get(BASE + "version/", summary="List the network's versions")
def get_versions(nnid: str, networks: NetworksDep) -> list[dict[str, Any]]:
    return [version_row(v) for v in networks.versions(nnid)]


@router.put(BASE + "version/", summary="Change a version; active_flag 'Y' makes it the only active one")
def update_version(nnid: str, body: VersionUpdate, networks: NetworksDep, actor: ActorDep) -> str:
    version = check_version(body.nn_wf_ver_id)
    fields: dict[str, Any] = {
        "info": body.nn_wf_ver_info,
        "desc": body.nn_wf_ver_desc,
        "condition": body.condition,
        "def_list_nn_id": body.nn_def_list_info_nn_id,
    }
    if body.active_flag is not None:
        fields["active"] = body.active_flag == "Y"
    networks.update_version(nnid, version, fields, actor=actor)
    return str(version)


@router.get(BASE + "version/{ver}/", summary="List the version's models (training runs)")
def get_runs(nnid: str, ver: VersionDep, networks: NetworksDep) -> list[dict[str, Any]]:
    return [run_row(r) for r in networks.runs(nnid, ver)]


@router.put(BASE + "version/{ver}/", summary="Choose the model that serves the version's predictions")
def choose_model(
    nnid: str, ver: VersionDep, body: ModelChoice, networks: NetworksDep, actor: ActorDep
) -> str:
    if "Y" not in (body.active_flag, body.eval_flag):
        raise InvalidInput(
            "set active_flag (or eval_flag) to 'Y' to choose this model; the version keeps serving "
            "its current model otherwise",
            field="active_flag",
        )
    networks.choose_model(nnid, ver, body.nn_batch_ver_id, actor=actor)
    return body.nn_batch_ver_id
