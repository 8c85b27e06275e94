"""Planning a training run: the detector parameters a version's node settings ask for, checked
before anything is written (training data present, columns known, no label among the inputs,
epochs and network size within the limits), so a refused request changes nothing."""

from __future__ import annotations

from typing import Any

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import ColumnKind
from aedetect.errors import Hint, InvalidInput, listed, quoted
from aedetect.services.evaluation import EvaluationService
from aedetect.services.limits import Limits, check_epochs, check_network, check_training_budget
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import check_nn_id
from aedetect.services.workflow import (
    FEED_NODE,
    NETCONF,
    NETCONF_NODE,
    TRAIN_DATA,
    TRAIN_FEED,
    WorkflowService,
    validate_feeder,
    validate_netconf,
)

NATIVE_PARAMS = "params"
"""Key of the ``netconf_node`` settings holding a native-API model's detector parameters."""


def plan_run(
    workflow: WorkflowService,
    datasets: DatasetService,
    evaluation: EvaluationService,
    nn_id: str,
    version: int,
) -> dict[str, Any]:
    """The run parameters from the version's node settings (``detector``, and the ``dataset`` it
    trains on when it is one), or ``InvalidInput`` saying what to fix (missing data, unknown
    columns, incompatible evaluation settings)."""
    workflow.nodes(check_nn_id(nn_id), version)
    available = _training_columns(datasets, nn_id, version)
    feeder = validate_feeder(workflow.config(nn_id, version, TRAIN_FEED, FEED_NODE))
    label = evaluation.settings(nn_id, version).get("label_column")
    columns = _model_columns(feeder, available, label)
    stored = workflow.config(nn_id, version, NETCONF, NETCONF_NODE)
    evaluation.check(nn_id, version, columns)
    detector = _detector_params(stored, feeder, columns, workflow.limits)
    rows = sum(f.rows for f in datasets.files(nn_id, version, TRAIN_DATA))
    at_least = [(ColumnKind.NUMERIC, 2)] * len(columns)  # the vocabularies are counted when it runs
    check_training_budget(
        at_least, detector.get("n_hidden"), rows, detector, workflow.limits, "counting 2 per column"
    )
    plan: dict[str, Any] = {"detector": detector}
    dataset = datasets.dataset_of(nn_id, version, TRAIN_DATA)
    if dataset is not None:
        plan["dataset"] = dataset
    return plan


def _training_columns(datasets: DatasetService, nn_id: str, version: int) -> list[str]:
    """The columns of the version's training files, or ``InvalidInput`` when it has no data."""
    files = datasets.files(nn_id, version, TRAIN_DATA)
    if not files:
        raise InvalidInput(
            f"version {version} of network {nn_id} has no training data: upload CSV files to node "
            "'datasrc' first",
            field="datasrc",
            hint=Hint("upload_training_data", model=nn_id, version=version),
        )
    if sum(f.rows for f in files) < 2:
        raise InvalidInput("the datasrc files hold fewer than 2 rows: upload more data", field="datasrc")
    return files[0].columns


def _model_columns(feeder: dict[str, Any], available: list[str], label: str | None) -> list[str]:
    """The model's input columns: the feeder's ``encode_column``, or every column but the label
    and the excluded ones; each must be in the training files, and the label never among them."""
    columns: list[str] = feeder["encode_column"]
    if label is not None and label in columns:
        raise InvalidInput(
            f"feed_train encode_column lists {quoted(label)}, the eval_node label_column: a label is "
            "never a model input; remove it from encode_column",
            field="encode_column",
        )
    if not columns:
        excluded = {label, *feeder.get("exclude_column", [])}
        columns = [c for c in available if c not in excluded]
    missing = [c for c in columns if c not in available]
    if missing:
        raise InvalidInput(
            f"feed_train encode_column names column(s) the datasrc files lack: {listed(missing)} "
            f"(the files have {len(available)} columns: {listed(available)})",
            field="encode_column",
        )
    if not columns:
        raise InvalidInput("no column is left to train on", field="encode_column")
    categorical = feeder.get("categorical")
    if categorical and not set(categorical) <= set(columns):
        raise InvalidInput(
            f"feed_train categorical names columns the model does not use: "
            f"{listed(c for c in categorical if c not in columns)}",
            field="categorical",
        )
    return columns


def _detector_params(
    stored: dict[str, Any], feeder: dict[str, Any], columns: list[str], limits: Limits
) -> dict[str, Any]:
    """The detector's parameters: a native-API model's own (stored under :data:`NATIVE_PARAMS`),
    else the v1 ``netconf`` settings mapped to the library's names; epochs and network size
    checked against the limits."""
    common = {
        "columns": columns,
        "categorical": feeder.get("categorical"),
        "vocab_size": feeder["vocab_size"],
    }
    native = stored.get(NATIVE_PARAMS)
    if isinstance(native, dict):  # a model of the native API: the library's own names and defaults
        detector = {**native, **common}
    else:
        netconf = validate_netconf(stored, limits)
        detector = {
            **common,
            "n_hidden": netconf.get("n_hidden"),
            "epochs": netconf.get("iter"),
            "batch_size": netconf.get("batch_size"),
            "learning_rate": netconf.get("learning_rate"),
            "random_state": netconf.get("random_state"),
            # ``iter`` is the exact number of passes (v1 semantics): no early stopping unless asked.
            "validation_fraction": netconf.get("validation_fraction", 0.0),
        }
    check_epochs(detector.get("epochs"), limits, "epochs" if isinstance(native, dict) else "iter")
    hidden = detector.get("n_hidden") or AutoEncoderDetector.default_hidden(len(columns))
    at_least = f"at least 2 inputs for each of {len(columns)} columns"
    check_network(hidden, limits, n_input=2 * len(columns), inputs=at_least)
    return detector
