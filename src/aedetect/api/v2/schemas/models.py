"""Bodies of the model routes: a model's data, columns and detector parameters, and a training
request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import StrictBool

from aedetect.api.v2.schemas.common import DATASET_EXAMPLE, JOB_EXAMPLE, WHEN, F, Public, Request
from aedetect.api.v2.schemas.jobs import JobStatusName
from aedetect.services.models import describe_params
from aedetect.services.paths import DATASET_ID_PATTERN, NN_ID_PATTERN, schema_pattern

PARAMS_EXAMPLE = {"n_hidden": [64, 16], "epochs": 30, "batch_size": 256, "learning_rate": 0.001}


class ModelFields(Request):
    columns: list[str] | None = F(
        "Ordered columns to model; default: every column of the dataset except the label column.",
        ["protocol_type", "service", "src_bytes"],
        None,
    )
    categorical: list[str] | None = F(
        "Numeric columns to treat as categories (text and boolean columns always are).", ["service"], None
    )
    params: dict[str, Any] | None = F(describe_params(), PARAMS_EXAMPLE, None)
    eval_dataset: str | None = F("Dataset to evaluate each trained version on.", "ds_ba9876543210", None)
    label_column: str | None = F(
        "Column marking known anomalies (in eval_dataset, else in dataset); never a model input.",
        "label",
        None,
    )
    normal_value: str | int | float | None = F(
        "The label column's value on normal rows (default: 0, false, 'normal', ...).", "normal", None
    )
    description: str | None = F("Free text about the model.", "Line 7 sensors", None, max_length=10_000)
    auto_promote: bool | None = F(
        "Whether production moves to each newly trained version (default true).", True, None
    )


class ModelCreate(ModelFields):
    name: str = F(
        "Model name: 1-50 letters, digits, '_' or '-'.",
        "plant-7",
        json_schema_extra=schema_pattern(NN_ID_PATTERN),
    )
    dataset: str = F(
        "Id of the training dataset.",
        DATASET_EXAMPLE,
        json_schema_extra=schema_pattern(DATASET_ID_PATTERN),
    )


class ModelUpdate(ModelFields):
    dataset: str | None = F(
        "Id of the training dataset.",
        DATASET_EXAMPLE,
        None,
        json_schema_extra=schema_pattern(DATASET_ID_PATTERN),
    )


class LastTraining(Public):
    job: str | None = F("Id of the training job.", JOB_EXAMPLE)
    status: JobStatusName = F("Where it is.", "failed")
    version: int | None = F("The model version it made (null unless it succeeded).", None)
    error: str | None = F("Why it failed or was cancelled.", "column 'pressure' is missing from the dataset")
    created_at: datetime | None = F("When it was queued (UTC).", WHEN)
    finished_at: datetime | None = F("When it ended (UTC).", WHEN)


class ModelPublic(Public):
    name: str = F("Model name (the v1 nn_id).", "plant-7")
    description: str = F("Free text about the model.", "Line 7 sensors")
    dataset: str | None = F(
        "Training dataset (null for a v1 network trained on uploaded node files).", DATASET_EXAMPLE
    )
    columns: list[str] | None = F("Columns chosen (null: all but the label column).", ["src_bytes"])
    categorical: list[str] | None = F("Numeric columns treated as categories.", None)
    params: dict[str, Any] = F("Detector parameters as given (defaults apply to the rest).", PARAMS_EXAMPLE)
    eval_dataset: str | None = F("Evaluation dataset.", None)
    label_column: str | None = F("Label column.", "label")
    normal_value: str | int | float | None = F("Label value of normal rows.", None)
    auto_promote: bool = F("Whether production moves to each new version.", True)
    aliases: dict[str, int] = F("Alias -> model version.", {"production": 3})
    latest_version: int | None = F("Highest model version number.", 3)
    training: bool = F("Whether a training job of the model is queued or running.", False)
    last_training: LastTraining | None = F(
        "Its newest training, whatever its outcome (null: never trained).", None
    )
    last_trained_at: datetime | None = F("When its newest successful training ended (UTC).", WHEN)
    created_at: datetime | None = F("When the model was created (UTC).", WHEN)
    updated_at: datetime | None = F("When its descriptive fields last changed (UTC).", WHEN)


class ModelList(Public):
    items: list[ModelPublic] = F("One page of models, by name.", [])
    next: str | None = F("Cursor of the next page, null at the end.", None)


class TrainRequest(Request):
    feedback: StrictBool = F(
        "Apply the operators' feedback to the training rows: rows confirmed normal are added, training "
        "rows equal to a confirmed anomaly are removed (recorded in the version's metrics.feedback).",
        True,
        False,
    )
