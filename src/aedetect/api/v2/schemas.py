"""Request and response bodies of the native API, split by direction (``XCreate``, ``XUpdate``,
``XPublic``). Every field has a description and an example; requests refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aedetect.errors import quoted

Scalar = str | int | float | bool | None
DATASET_EXAMPLE = "ds_0123456789ab"
JOB_EXAMPLE = "5f0c6a1e9d2b4c7a8e3f1b2d4c6a8e0f"
WHEN = "2026-12-01T10:15:00Z"


def F(description: str, example: Any, default: Any = ..., **kwargs: Any) -> Any:
    """A field with its description and one example (what every field of this API carries)."""
    return Field(default, description=description, examples=[example], **kwargs)


ModelName = Annotated[str, Path(description="Model name (the v1 nn_id).", examples=["plant-7"])]
DatasetId = Annotated[str, Path(description="Dataset id.", examples=[DATASET_EXAMPLE])]
JobId = Annotated[str, Path(description="Job id.", examples=[JOB_EXAMPLE])]
AliasName = Annotated[
    str, Path(description="Alias name (production: what scoring and v1 use).", examples=["production"])
]
MAX_VERSION = 2**31 - 1
"""Largest version number a request may name (the registry stores 32-bit integers)."""
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Model version number.", examples=[3])]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- datasets ------------------------------------------------------------------------------------
class ColumnProfile(Public):
    name: str = F("Column name as in the CSV header.", "src_bytes")
    kind: Literal["numeric", "categorical"] = F("How a model would encode the column.", "numeric")
    missing_share: float = F("Share of rows where the value is missing (0 to 1).", 0.0)
    distinct: int = F("Number of distinct present values.", 1523)
    examples: list[Scalar] = F("A few distinct values of the column.", [0, 181, 239])


class DatasetPublic(Public):
    id: str = F("Dataset id, used by models and threshold and evaluation requests.", DATASET_EXAMPLE)
    name: str = F("The uploaded file's name.", "KDDTrain+.csv")
    bytes: int = F("File size in bytes.", 18_437_225)
    rows: int = F("Data rows below the header.", 125_973)
    columns: list[ColumnProfile] = F("The inferred schema, one entry per column.", [])
    created_at: datetime | None = F("When it was uploaded (UTC).", WHEN)


class DatasetDetail(DatasetPublic):
    preview: list[dict[str, Scalar]] = F(
        "The first rows, typed as training reads them.", [{"src_bytes": 181}]
    )


class DatasetList(Public):
    items: list[DatasetPublic] = F("One page of datasets, oldest first.", [])
    next: str | None = F("Cursor of the next page (pass it as ?cursor=), null at the end.", None)


# --- models --------------------------------------------------------------------------------------
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
    params: dict[str, Any] | None = F(
        "Detector parameters by the library's own names: n_hidden, epochs, batch_size, learning_rate, "
        "vocab_size, contamination, validation_fraction, patience, clip_quantile, numeric_transform, "
        "magnitude_weight, activation, weight_decay, random_state. Missing ones take the library defaults.",
        PARAMS_EXAMPLE,
        None,
    )
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
    name: str = F("Model name: 1-50 letters, digits, '_' or '-'.", "plant-7")
    dataset: str = F("Id of the training dataset.", DATASET_EXAMPLE)


class ModelUpdate(ModelFields):
    dataset: str | None = F("Id of the training dataset.", DATASET_EXAMPLE, None)


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
    created_at: datetime | None = F("When the model was created (UTC).", WHEN)
    updated_at: datetime | None = F("When its descriptive fields last changed (UTC).", WHEN)


class ModelList(Public):
    items: list[ModelPublic] = F("One page of models, by name.", [])
    next: str | None = F("Cursor of the next page, null at the end.", None)


# --- jobs ----------------------------------------------------------------------------------------
class LossHistory(Public):
    train_loss: list[float | None] = F("Training loss per epoch.", [0.93, 0.41])
    val_loss: list[float | None] = F("Validation loss per epoch (empty without validation).", [0.95, 0.44])


class JobProgress(Public):
    epoch: int | None = F("Epochs done (training).", 12, None)
    max_epochs: int | None = F("Most epochs it will run (early stopping may end sooner).", 30, None)
    train_loss: float | None = F("Training loss of the last epoch.", 0.21, None)
    val_loss: float | None = F("Validation loss of the last epoch.", 0.23, None)
    elapsed_s: float | None = F("Seconds since training started.", 41.5, None)
    eta_s: float | None = F("Estimated seconds left (at most; early stopping may end sooner).", 62.3, None)
    history: LossHistory | None = F("Losses of every epoch so far, for charts.", None, None)
    rows_done: int | None = F("Rows scored so far (scoring).", 20000, None)
    rows_total: int | None = F("Rows to score (scoring).", 22544, None)


class JobPublic(Public):
    id: str = F("Job id.", JOB_EXAMPLE)
    kind: Literal["train", "score"] = F("What the job does.", "train")
    model: str | None = F("The model it works on.", "plant-7")
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] = F(
        "Where the job is.", "running"
    )
    progress: JobProgress = F("Progress so far.", {"epoch": 12, "max_epochs": 30})
    version: int | None = F("The model version it made (training) or used (scoring).", 4)
    error: str | None = F("Why it failed or was cancelled.", None)
    result: dict[str, Any] | None = F("Result summary (scoring: rows, anomalies, threshold).", None)
    result_url: str | None = F("Where to download the scored CSV (scoring jobs that succeeded).", None)
    cancel_requested: bool = F("Whether someone asked it to stop.", False)
    created_at: datetime | None = F("When it was queued (UTC).", WHEN)
    started_at: datetime | None = F("When a worker took it (UTC).", None)
    finished_at: datetime | None = F("When it ended (UTC).", None)
    worker: str | None = F(
        "The worker process that took it (host:process id; the celery job runner only).", "worker-2:4187"
    )


class JobList(Public):
    items: list[JobPublic] = F("One page of jobs, newest first.", [])
    next: str | None = F("Cursor of the next page, null at the end.", None)


# --- versions, aliases, thresholds ---------------------------------------------------------------
class ColumnKind(Public):
    name: str = F("Column name.", "service")
    kind: Literal["numeric", "categorical"] = F("How the version encodes it.", "categorical")


class ThresholdPublic(Public):
    value: float = F("Scores above it are anomalies.", 3.2)
    strategy: str = F("How it was chosen: contamination, value, fpr or best_f1.", "fpr")
    inputs: dict[str, Any] = F("What the strategy used, and the previous value.", {"target": 0.01})
    actor: str | None = F("Who set it (null until authentication exists).", None)
    note: str | None = F("Why it was set.", "fewer false alarms on line 7")
    created_at: datetime | None = F("When it was set (UTC).", WHEN)


class ThresholdList(Public):
    items: list[ThresholdPublic] = F("Every revision, oldest first; the last one is in force.", [])
    next: str | None = F("Always null: every revision is in this page.", None)


class VersionPublic(Public):
    version: int = F("Model version number.", 3)
    model: str = F("Model name.", "plant-7")
    run_id: str = F("The v1 model id (nn_batch_ver_id) of this version.", "plant-7_1_3")
    job_id: str | None = F("The training job that made it.", JOB_EXAMPLE)
    dataset: str | None = F("Dataset it was trained on (null: v1 node files).", DATASET_EXAMPLE)
    rows: int | None = F("Training rows.", 125_973)
    columns: list[ColumnKind] = F("Columns and their kinds.", [])
    params: dict[str, Any] = F("Detector parameters after defaults.", PARAMS_EXAMPLE)
    history: LossHistory | None = F("Loss per epoch.", None)
    training_time_s: float | None = F("Seconds training took (fit and baseline).", 84.2)
    threshold: ThresholdPublic | None = F("The threshold in force.", None)
    metrics: dict[str, Any] = F(
        "Training metrics: final losses, epochs, the baseline summary and, with labelled evaluation data, "
        "the evaluation (same shape as the evaluate response).",
        {"epochs": 30},
    )
    aliases: list[str] = F("Aliases pointing at this version.", ["production"])
    created_at: datetime | None = F("When its training was queued (UTC).", WHEN)
    finished_at: datetime | None = F("When its training ended (UTC).", WHEN)


class VersionList(Public):
    items: list[VersionPublic] = F("Every version, oldest first.", [])
    next: str | None = F("Always null: every version is in this page.", None)


class AliasSet(Request):
    version: int = F("Model version the alias should name.", 2, ge=1, le=MAX_VERSION)
    note: str | None = F("Why (kept with the move).", "roll back: v3 flags too much", None, max_length=10_000)


class AliasMovePublic(Public):
    alias: str = F("Alias name.", "production")
    from_version: int | None = F("Version it named before (null: it was new).", 3)
    to_version: int | None = F("Version it names now (null: removed).", 2)
    actor: str | None = F("Who moved it (null until authentication exists).", None)
    note: str | None = F("Why.", None)
    moved_at: datetime | None = F("When (UTC).", WHEN)


class AliasPublic(Public):
    alias: str = F("Alias name.", "production")
    version: int | None = F("Version it names (null when removed).", 2)
    history: list[AliasMovePublic] = F("Every move of this alias, oldest first.", [])


class AliasList(Public):
    items: list[AliasPublic] = F("The model's aliases with their histories.", [])
    next: str | None = F("Always null.", None)


class ThresholdSet(Request):
    """One of: ``{"strategy": "contamination", "contamination": 0.02}``, ``{"strategy": "value",
    "value": 3.2}``, ``{"strategy": "fpr", "target": 0.01, "dataset": "<id>", "label_column": "<col>"}``
    (no label column: the dataset is taken as normal), ``{"strategy": "best_f1", "dataset": "<id>",
    "label_column": "<col>"}``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"strategy": "contamination", "contamination": 0.02},
                {"strategy": "value", "value": 3.2},
                {"strategy": "fpr", "target": 0.01, "dataset": DATASET_EXAMPLE, "label_column": "label"},
                {"strategy": "best_f1", "dataset": DATASET_EXAMPLE, "label_column": "label"},
            ]
        },
    )

    strategy: Literal["contamination", "value", "fpr", "best_f1"] = F("How to choose the threshold.", "fpr")
    contamination: float | None = F(
        "contamination: expected anomaly share, in (0, 0.5].", 0.02, None, gt=0, le=0.5
    )
    value: float | None = F("value: the threshold itself.", 3.2, None, allow_inf_nan=False)
    target: float | None = F(
        "fpr: the largest false-positive rate allowed, in (0, 1).", 0.01, None, gt=0, lt=1
    )
    dataset: str | None = F("fpr, best_f1: the dataset to measure on.", DATASET_EXAMPLE, None)
    label_column: str | None = F("fpr, best_f1: column marking known anomalies.", "label", None)
    normal_value: str | int | float | None = F("The label column's value on normal rows.", "normal", None)
    note: str | None = F("Why the threshold changes (kept with the revision).", "fewer false alarms", None)

    @model_validator(mode="after")
    def _needs(self) -> Self:
        required = {
            "contamination": ["contamination"],
            "value": ["value"],
            "fpr": ["target", "dataset"],
            "best_f1": ["dataset", "label_column"],
        }[self.strategy]
        missing = [name for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"strategy {quoted(self.strategy)} needs {' and '.join(f'`{m}`' for m in missing)}"
            )
        return self


class Confusion(Public):
    tp: int = F("Anomalies flagged.", 9120)
    fp: int = F("Normal rows flagged.", 310)
    tn: int = F("Normal rows passed.", 9401)
    fn: int = F("Anomalies missed.", 3713)


class Quantiles(Public):
    min: float | None = F("Lowest score.", 0.4)
    p25: float | None = F("25th percentile.", 1.1)
    median: float | None = F("Median.", 1.6)
    p75: float | None = F("75th percentile.", 2.4)
    p95: float | None = F("95th percentile.", 5.0)
    p99: float | None = F("99th percentile.", 9.3)
    max: float | None = F("Highest score.", 88.0)


class ClassQuantiles(Public):
    normal: Quantiles | None = F("Score quantiles of the normal rows.", None)
    anomaly: Quantiles | None = F("Score quantiles of the known anomalies.", None)


class Metrics(Public):
    rows: int = F("Rows evaluated.", 22544)
    anomalies: int = F("Known anomalies among them.", 12833)
    threshold: float | None = F("Threshold of the verdicts.", 3.2)
    roc_auc: float | None = F("Area under the ROC curve (null unless both classes occur).", 0.91)
    average_precision: float | None = F("Average precision (null unless both classes occur).", 0.93)
    precision: float = F("Share of flagged rows that are anomalies.", 0.967)
    recall: float = F("Share of anomalies flagged.", 0.711)
    f1: float = F("Harmonic mean of precision and recall.", 0.819)
    confusion: Confusion = F(
        "Confusion matrix at the threshold.", {"tp": 9120, "fp": 310, "tn": 9401, "fn": 3713}
    )
    quantiles: ClassQuantiles = F("Score quantiles per class.", {"normal": None, "anomaly": None})


class BaselineMetrics(Metrics):
    detector: Literal["IsolationForest"] = F("The baseline detector.", "IsolationForest")


class EvaluateRequest(Request):
    dataset: str = F("Labelled dataset to evaluate on.", DATASET_EXAMPLE)
    label_column: str = F("Column marking known anomalies.", "label")
    normal_value: str | int | float | None = F("The label column's value on normal rows.", "normal", None)


class Evaluation(Metrics):
    dataset: str = F("Dataset evaluated on.", DATASET_EXAMPLE)
    label_column: str = F("Label column used.", "label")
    version: int | None = F("Model version evaluated.", 3)
    baseline: BaselineMetrics | None = F("The IsolationForest fitted on the same training rows.", None)
    baseline_unavailable: str | None = F("Why there is no baseline, when there is none.", None, None)


# --- scoring -------------------------------------------------------------------------------------
class ScoreRequest(Request):
    rows: list[dict[str, Any]] | None = F(
        "Rows to score, each an object of column values (every model column).",
        [{"protocol_type": "tcp", "service": "http", "src_bytes": 181}],
        None,
        max_length=100_000,
    )
    dataset: str | None = F("Instead of rows: a stored dataset to score as a job (answers 202).", None, None)
    top: int = F("How many top contributing columns to give per row.", 3, 3, ge=0, le=1000)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.rows is None) == (self.dataset is None):
            raise ValueError(
                "send either `rows` (scored at once) or `dataset` (scored as a job), not both or neither"
            )
        return self


class Contribution(Public):
    column: str = F("Model column.", "src_bytes")
    share: float | None = F("Its share of the row's score (shares of all columns add up to 1).", 0.82)
    value: Scalar = F("The value sent.", 5_000_000)
    expected: Scalar = F("What the model expected there: its reconstruction (number or category).", 231.5)


class ScoredRow(Public):
    score: float | None = F("Anomaly score, higher = more anomalous.", 41.7)
    is_anomaly: bool = F("Whether the score is above the threshold.", True)
    threshold: float = F("The threshold in force.", 3.2)
    similarity: float | None = F(
        "The v1 similarity: a decreasing function of the score in (0, 1); below the same function of the "
        "threshold exactly when is_anomaly.",
        0.05,
    )
    cosine_similarity: float | None = F("Cosine of input and reconstruction (the old system's number).", 0.97)
    contributions: list[Contribution] = F("The top contributing columns, most first.", [])


class ScoreResponse(Public):
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version that scored.", 3)
    threshold: float = F("The threshold in force.", 3.2)
    rows: list[ScoredRow] = F("One entry per row sent, in order.", [])
