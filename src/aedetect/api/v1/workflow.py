"""v1 workflow: the simple-mode graph and the feeder, network and evaluation node settings."""

from __future__ import annotations

from typing import Any

from aedetect.api.deps import VersionDep, WfVersionDep, WorkflowDep
from aedetect.api.v1.envelope import V1Router
from aedetect.api.v1.schemas import EvalConf, Feeder, NetConf, WorkflowInit
from aedetect.domain import Node
from aedetect.services.workflow import EVAL_NODE, FEED_NODE, NETCONF_NODE, NODE_SUBMENU, TEMPLATE_EDGES

router = V1Router(tags=["v1 workflow"])

INIT = "/wf/target/init/mode/simple/{nnid}/wfver/{wfver}/"
FEEDER = "/wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/{nnid}/ver/{ver}/node/{node}/"
NETCONF = "/wf/state/netconf/detail/autoencoder/nnid/{nnid}/ver/{ver}/node/{node}/"
EVAL = "/wf/state/eval/nnid/{nnid}/ver/{ver}/node/{node}/"


def node_row(node: Node) -> dict[str, Any]:
    """A node as the old server serialised it, plus its edges."""
    return {
        "model": "master.nn_wf_node_info",
        "pk": node.node_id,
        "fields": {
            "nn_wf_node_id": node.node_id,
            "nn_wf_node_name": node.name,
            "wf_task_menu_id": node.kind,
            "wf_task_submenu_id": NODE_SUBMENU.get(node.name),
            "node_config_data": node.config,
            "nn_wf_ver_id": node.version,
            "nn_id": node.nn_id,
            "node_prev": [a for a, b in TEMPLATE_EDGES if b == node.name],
            "node_next": [b for a, b in TEMPLATE_EDGES if a == node.name],
        },
    }


@router.post(INIT, summary="Create the version's workflow from the template")
def init_workflow(nnid: str, wfver: WfVersionDep, body: WorkflowInit, workflow: WorkflowDep) -> str:
    workflow.init(nnid, wfver, body.type)
    return body.type


@router.get(INIT + "desc/{desc}/", summary="The version's nodes ('all' or one node) with their settings")
def describe_nodes(nnid: str, wfver: WfVersionDep, desc: str, workflow: WorkflowDep) -> list[dict[str, Any]]:
    if desc == "all":
        return [node_row(n) for n in workflow.nodes(nnid, wfver)]
    return [node_row(workflow.node(nnid, wfver, desc))]


@router.post(FEEDER, summary="Set a feeder's columns and encoding")
@router.put(FEEDER, summary="Set a feeder's columns and encoding")
def set_feeder(nnid: str, ver: VersionDep, node: str, body: Feeder, workflow: WorkflowDep) -> dict[str, Any]:
    return workflow.set_feeder(nnid, ver, node, body.model_dump(exclude_none=True))


@router.get(FEEDER, summary="A feeder's settings")
def get_feeder(nnid: str, ver: VersionDep, node: str, workflow: WorkflowDep) -> dict[str, Any]:
    return workflow.config(nnid, ver, node, FEED_NODE)


@router.put(NETCONF, summary="Set the autoencoder's hyperparameters")
def set_netconf(
    nnid: str, ver: VersionDep, node: str, body: NetConf, workflow: WorkflowDep
) -> dict[str, Any]:
    return workflow.set_netconf(nnid, ver, node, body.model_dump(exclude_none=True))


@router.get(NETCONF, summary="The autoencoder's hyperparameters")
def get_netconf(nnid: str, ver: VersionDep, node: str, workflow: WorkflowDep) -> dict[str, Any]:
    return workflow.config(nnid, ver, node, NETCONF_NODE)


@router.put(EVAL, summary="Set how the model is evaluated (type, optional label_column)")
def set_eval(nnid: str, ver: VersionDep, node: str, body: EvalConf, workflow: WorkflowDep) -> dict[str, Any]:
    return workflow.set_eval(nnid, ver, node, body.model_dump(exclude_none=True))


@router.get(EVAL, summary="The evaluation settings")
def get_eval(nnid: str, ver: VersionDep, node: str, workflow: WorkflowDep) -> dict[str, Any]:
    return workflow.config(nnid, ver, node, EVAL_NODE)
