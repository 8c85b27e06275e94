"""The workflow of a version: the fixed ``autoencoder_csv`` node graph and the settings of its
feeder, network and evaluation nodes, validated here so a bad value is refused when it is set,
not discovered at training time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from aedetect.detectors.params import PARAMETERS
from aedetect.domain import Node
from aedetect.errors import Hint, InvalidInput, NotFound, listed, quoted
from aedetect.registry.base import Registry
from aedetect.services.limits import Limits, check_epochs, check_layers, check_network, check_text_sizes
from aedetect.services.paths import DataPaths, check_nn_id, check_node_name

AUTOENCODER_CSV = "autoencoder_csv"
"""The one workflow type: CSV data into an autoencoder anomaly detector."""

SUPPORTED_WORKFLOWS = (AUTOENCODER_CSV,)

DATA_NODE, FEED_NODE, NETCONF_NODE, EVAL_NODE = "data", "preprocess", "netconf", "eval"

TEMPLATE_NODES: tuple[tuple[str, str], ...] = (
    ("datasrc", DATA_NODE),
    ("feed_train", FEED_NODE),
    ("netconf_node", NETCONF_NODE),
    ("evaldata", DATA_NODE),
    ("feed_test", FEED_NODE),
    ("eval_node", EVAL_NODE),
)
"""``(name, kind)`` of the template's nodes in execution order."""

TEMPLATE_EDGES: tuple[tuple[str, str], ...] = (
    ("datasrc", "feed_train"),
    ("feed_train", "netconf_node"),
    ("netconf_node", "eval_node"),
    ("evaldata", "feed_test"),
    ("feed_test", "eval_node"),
)

NODE_SUBMENU = {
    "datasrc": "data_frame",
    "feed_train": "pre_feed_fr2auto",
    "netconf_node": "autoencoder",
    "evaldata": "data_frame",
    "feed_test": "pre_feed_fr2auto",
    "eval_node": "eval_extra",
}
"""The old system's task type of each node, shown in node descriptions."""

TRAIN_DATA, TRAIN_FEED, NETCONF, EVAL_DATA, EVAL_FEED, EVAL = (name for name, _ in TEMPLATE_NODES)

EVAL_TYPES = ("regression", "anomaly")
"""Accepted ``eval_node`` types; both mean the autoencoder's similarity evaluation."""

MAX_VOCAB = 100_000
MAX_INT = 2**31 - 1
"""Largest integer setting stored (the registry's integer range): anything above is refused, never
left to overflow later."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(config: Mapping[str, Any], name: str, upper: int) -> int | None:
    value = config.get(name)
    if value is None:
        return None
    if not _is_int(value) or not 1 <= value <= upper:
        raise InvalidInput(f"{name} must be an integer from 1 to {upper}, got {quoted(value)}", field=name)
    return int(value)


def _column_list(config: Mapping[str, Any], name: str) -> list[str] | None:
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise InvalidInput(f"{name} must be a list of column names, got {quoted(value)}", field=name)
    duplicates = sorted({c for c in value if value.count(c) > 1})
    if duplicates:
        raise InvalidInput(f"{name} names a column twice: {listed(duplicates)}", field=name)
    return list(value)


def validate_feeder(config: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised settings of a feeder node (``feed_train``/``feed_test``).

    ``encode_column``: the ordered model columns (absent or empty: all columns); ``vocab_size``:
    most frequent values one-hot encoded per categorical column; ``categorical``: numeric columns
    to treat as categories; ``exclude_column``: columns left out when ``encode_column`` is empty.
    """
    preprocess = config.get("preprocess", "frame")
    if preprocess != "frame":
        raise InvalidInput(
            f"preprocess must be 'frame' (tabular CSV data), got {quoted(preprocess)}", field="preprocess"
        )
    embed_type = config.get("embed_type", "onehot")
    if embed_type != "onehot":
        raise InvalidInput(f"embed_type must be 'onehot', got {quoted(embed_type)}", field="embed_type")
    vocab_size = _positive_int(config, "vocab_size", MAX_VOCAB)
    result: dict[str, Any] = {
        "encode_column": _column_list(config, "encode_column") or [],
        "vocab_size": PARAMETERS["vocab_size"].check(vocab_size),
        "preprocess": preprocess,
        "embed_type": embed_type,
    }
    for optional in ("exclude_column", "categorical"):
        columns = _column_list(config, optional)
        if columns:
            result[optional] = columns
    return result


def validate_netconf(config: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """The normalised autoencoder hyperparameters of ``netconf_node``.

    ``iter`` is the number of passes over the data; ``n_hidden`` the encoder widths (a bare
    integer means one layer). Missing values take the detector's defaults at training time.
    ``iter`` and the network's layers and weights (as far as they are known without the data) are
    held to ``limits``.
    """
    result: dict[str, Any] = {}
    for name in ("learning_rate", "validation_fraction"):  # the detector's own rules
        if config.get(name) is not None:
            result[name] = PARAMETERS[name].check(config[name])
    for name, upper in (("iter", MAX_INT), ("batch_size", 1_000_000)):
        value = _positive_int(config, name, upper)
        if value is not None:
            result[name] = value
    check_epochs(result.get("iter"), limits)
    shown = config.get("examples_to_show")
    if shown is not None:
        if not _is_int(shown) or not 0 <= shown <= MAX_INT:
            raise InvalidInput(
                f"examples_to_show must be an integer from 0 to {MAX_INT}, got {quoted(shown)}",
                field="examples_to_show",
            )
        result["examples_to_show"] = shown
    hidden = config.get("n_hidden")
    if hidden is not None:
        layers = [hidden] if _is_int(hidden) else hidden
        if isinstance(layers, list):
            check_layers(len(layers), limits)
        result["n_hidden"] = PARAMETERS["n_hidden"].check(layers)
        check_network(result["n_hidden"], limits)
    if config.get("random_state") is not None:
        result["random_state"] = PARAMETERS["random_state"].check(config["random_state"])
    return result


def validate_eval(config: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised settings of ``eval_node``: its ``type``, and optionally the ``label_column``
    of the evaluation data that marks known anomalies plus the ``normal_value`` it has on normal rows."""
    eval_type = config.get("type")
    if eval_type not in EVAL_TYPES:
        raise InvalidInput(
            f"type must be one of {', '.join(EVAL_TYPES)}, got {quoted(eval_type)}", field="type"
        )
    result: dict[str, Any] = {"type": eval_type}
    label = config.get("label_column")
    if label is not None:
        if not isinstance(label, str) or not label.strip():
            raise InvalidInput(
                f"label_column must be a column name, got {quoted(label)}", field="label_column"
            )
        result["label_column"] = label
    normal = config.get("normal_value")
    if normal is not None:
        if isinstance(normal, bool) or not isinstance(normal, str | int | float):
            raise InvalidInput(
                f"normal_value must be a string or a number, got {quoted(normal)}", field="normal_value"
            )
        result["normal_value"] = normal
    return result


class WorkflowService:
    """Creates a version's node graph and stores the settings of its nodes."""

    def __init__(self, registry: Registry, paths: DataPaths, limits: Limits) -> None:
        self._registry = registry
        self._paths = paths
        self.limits = limits
        self._lock = threading.Lock()

    def init(self, nn_id: str, version: int, workflow_type: str) -> list[Node]:
        """Create the template's nodes (existing node settings are kept) and record the type."""
        if workflow_type not in SUPPORTED_WORKFLOWS:
            raise InvalidInput(
                f"unsupported workflow type {quoted(workflow_type)}; "
                f"supported: {', '.join(SUPPORTED_WORKFLOWS)}",
                field="type",
            )
        self._registry.get_version(check_nn_id(nn_id), version)
        nodes = self._registry.ensure_nodes(nn_id, version, TEMPLATE_NODES)
        self._registry.update_version(nn_id, version, {"workflow_type": workflow_type})
        return nodes

    def nodes(self, nn_id: str, version: int) -> list[Node]:
        """The version's nodes; ``NotFound`` when the workflow was never initialised."""
        self._registry.get_version(check_nn_id(nn_id), version)
        nodes = self._registry.list_nodes(nn_id, version)
        if not nodes:
            raise NotFound(
                f"version {version} of network {nn_id} has no workflow yet: set it up as type "
                f"'{AUTOENCODER_CSV}' first",
                hint=Hint("init_workflow", model=nn_id, version=version, type=AUTOENCODER_CSV),
            )
        return nodes

    def node(self, nn_id: str, version: int, name: str, kind: str | None = None) -> Node:
        """One node, checked to be of ``kind`` when given."""
        check_node_name(name)
        by_name = {n.name: n for n in self.nodes(nn_id, version)}
        node = by_name.get(name)
        if node is None:
            raise NotFound(
                f"node {quoted(name)} does not exist in version {version} of network {nn_id}; "
                f"its nodes are: {listed(by_name, len(TEMPLATE_NODES))}"
            )
        if kind is not None and node.kind != kind:
            expected = [n for n, k in TEMPLATE_NODES if k == kind]
            raise InvalidInput(
                f"node {quoted(name)} is a {node.kind} node; this call is for {kind} nodes: "
                f"{', '.join(expected)}",
                field="node",
            )
        return node

    def update_config(
        self,
        nn_id: str,
        version: int,
        name: str,
        kind: str | None,
        change: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """Apply ``change`` to a node's stored settings atomically (within this process)."""
        with self._lock:
            node = self.node(nn_id, version, name, kind)
            new_config = change(dict(node.config))
            return self._registry.set_node_config(nn_id, version, name, new_config).config

    def set_feeder(self, nn_id: str, version: int, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a feeder's settings."""
        check_text_sizes(config, self.limits)
        settings = validate_feeder(config)
        return self.update_config(nn_id, version, name, FEED_NODE, lambda _old: settings)

    def set_netconf(self, nn_id: str, version: int, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the network settings; the result also names where the version's models live."""
        settings = validate_netconf(config, self.limits)
        settings["model_path"] = self._paths.version_models_dir(nn_id, version)
        return self.update_config(nn_id, version, name, NETCONF_NODE, lambda _old: settings)

    def set_eval(self, nn_id: str, version: int, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the evaluation settings."""
        check_text_sizes(config, self.limits)
        settings = validate_eval(config)
        return self.update_config(nn_id, version, name, EVAL_NODE, lambda _old: settings)

    def config(self, nn_id: str, version: int, name: str, kind: str | None = None) -> dict[str, Any]:
        """A node's stored settings."""
        return dict(self.node(nn_id, version, name, kind).config)
