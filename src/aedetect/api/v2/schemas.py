"""Request and response bodies of the native API, split by direction (``XCreate``, ``XUpdate``,
``XPublic``). Every field has a description and an example; requests refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aedetect.domain import JobStatus
from aedetect.errors import quoted
from aedetect.services.models import describe_params

Scalar = str | int | float | bool | None
DATASET_EXAMPLE = "ds_0123456789ab"
JOB_EXAMPLE = "5f0c6a1e9d2b4c7a8e3f1b2d4c6a8e0f"
WHEN = "2026-12-01T10:15:00Z"
JobStatusName = JobStatus  # the enum itself: one list of statuses, the same values in the schema
"""Where a job (and the training run it drives) is."""


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
    distinct: int = F(
        "Number of distinct present values: exact below a bound (a million values shared by the "
        "columns, at least 4,096 each), estimated within about 1 % beyond.",
        1523,
    )
    examples: list[Scalar] = F("A few distinct values of the column.", [0, 181, 239])


class DatasetFormat(Public):
    kind: Literal["csv", "xlsx", "xls"] = F("What the file is, told by its content.", "csv")
    sheet: str | None = F("The workbook's sheet that was read (the first unless chosen).", None)
    sheets: list[str] | None = F("Every sheet of the workbook, in order.", None)
    encoding: str | None = F("Text encoding of a CSV file (detected unless given).", "utf-8-sig")
    delimiter: str | None = F("Field delimiter of a CSV file (detected unless given).", ";")
    decimal: str | None = F(
        "Decimal mark of a CSV file's numbers: ',' when a column was read as decimal-comma "
        "numbers (179,0 or 1.234,5; detected unless given).",
        ",",
    )
    header: bool = F("Whether the first row holds the column names.", True)


class DatasetPublic(Public):
    id: str = F("Dataset id, used by models and threshold and evaluation requests.", DATASET_EXAMPLE)
    name: str = F("The uploaded file's name.", "KDDTrain+.csv")
    bytes: int = F("File size in bytes.", 18_437_225)
    rows: int = F("Data rows below the header.", 125_973)
    columns: list[ColumnProfile] = F("The inferred schema, one entry per column.", [])
    created_at: datetime | None = F("When it was uploaded (UTC).", WHEN)
    format: DatasetFormat | None = F(
        "How the file was read; null for datasets kept before this was recorded.", None, None
    )


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
    name: str = F("Model name: 1-50 letters, digits, '_' or '-'.", "plant-7")
    dataset: str = F("Id of the training dataset.", DATASET_EXAMPLE)


class ModelUpdate(ModelFields):
    dataset: str | None = F("Id of the training dataset.", DATASET_EXAMPLE, None)


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
    status: JobStatusName = F("Where the job is.", "running")
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
    strategy: str = F("How it was chosen: contamination, value, fpr, best_f1 or feedback.", "fpr")
    inputs: dict[str, Any] = F("What the strategy used, and the previous value.", {"target": 0.01})
    actor: str | None = F("Who set it: the API key's name and id (null with auth off).", "line 7 (k_3f9a)")
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
    actor: str | None = F("Who moved it: the API key's name and id (null with auth off).", None)
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
                {"strategy": "feedback", "target_precision": 0.9},
                {"strategy": "feedback", "target_false_alarm_rate": 0.05},
            ]
        },
    )

    strategy: Literal["contamination", "value", "fpr", "best_f1", "feedback"] = F(
        "How to choose the threshold.", "fpr"
    )
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
    target_precision: float | None = F(
        "feedback: the share of alarms that operators should confirm as anomalies, in (0, 1].",
        0.9,
        None,
        gt=0,
        le=1,
    )
    target_false_alarm_rate: float | None = F(
        "feedback: the largest share of rows confirmed normal that may be alarms, in [0, 1).",
        0.05,
        None,
        ge=0,
        lt=1,
    )
    note: str | None = F("Why the threshold changes (kept with the revision).", "fewer false alarms", None)

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.strategy == "feedback":
            given = [
                n for n in ("target_precision", "target_false_alarm_rate") if getattr(self, n) is not None
            ]
            if len(given) != 1:
                raise ValueError(
                    "strategy 'feedback' needs exactly one of `target_precision` and "
                    "`target_false_alarm_rate`"
                )
            return self
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


class HistogramPart(Public):
    rows: int = F("Rows counted.", 1500)
    counts: list[int] = F("Rows per bin (bin i spans edges[i] to edges[i+1]).", [12, 340, 101])
    nonfinite: int = F("Rows without a finite score (in no bin).", 0)


class ScoreHistogram(Public):
    version: int | None = F("Model version.", 3)
    threshold: float = F("The threshold in force.", 3.2)
    spacing: Literal["linear", "log"] = F(
        "How the edges are spaced: log (by ratio) when every score is positive with a long tail.", "log"
    )
    edges: list[float] = F("Bin edges, ascending (one more than bins).", [0.1, 1.0, 10.0, 100.0])
    training: HistogramPart = F("The version's training scores.", {"rows": 3, "counts": [1, 1, 1]})
    dataset: str | None = F("The dataset also counted, if any.", DATASET_EXAMPLE)
    label_column: str | None = F("Its label column, if any.", "label")
    normal: HistogramPart | None = F("The dataset's normal rows (all its rows without a label column).", None)
    anomaly: HistogramPart | None = F("The dataset's known anomalies (with a label column).", None)


class FlaggedRows(Public):
    rows: int = F("Rows counted.", 1500)
    flagged: int = F("Rows scoring above the threshold.", 31)
    share: float = F("flagged / rows.", 0.0207)


class FlaggedLabelled(FlaggedRows):
    anomalies: int | None = F("Known anomalies among the rows (with a label column).", 120, None)
    precision: float | None = F("Share of flagged rows that are anomalies (with a label column).", 0.9, None)
    recall: float | None = F("Share of anomalies flagged (with a label column).", 0.7, None)
    f1: float | None = F("Harmonic mean of precision and recall (with a label column).", 0.79, None)
    confusion: Confusion | None = F("Confusion matrix at the threshold (with a label column).", None, None)


class ThresholdPreview(Public):
    value: float = F("The threshold looked at.", 4.0)
    current: float = F("The threshold in force.", 3.2)
    training: FlaggedRows = F("What it flags among the training rows.", {"rows": 1500, "flagged": 31})
    dataset: str | None = F("The dataset also looked at, if any.", DATASET_EXAMPLE)
    label_column: str | None = F("Its label column, if any.", "label")
    evaluation: FlaggedLabelled | None = F("What it flags in the dataset.", None)


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
        "Rows to score, each an object of column values (every model column); at most "
        "AEDETECT_MAX_PREDICT_ROWS (413 above).",
        [{"protocol_type": "tcp", "service": "http", "src_bytes": 181}],
        None,
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


class ExplainedRow(ScoredRow):
    row: int = F("Row number in the scored file (1 = the first row below the header).", 17)
    values: dict[str, Scalar] = F("Every value of the row, as read.", {"src_bytes": 5_000_000})


class JobRows(Public):
    job: str = F("The scoring job.", JOB_EXAMPLE)
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version that scored.", 3)
    threshold: float = F("The threshold the job judged by.", 3.2)
    rows: int = F("Rows the job scored.", 22544)
    anomalies: int = F("Rows it flagged.", 512)
    items: list[ExplainedRow] = F("The highest-scoring rows, highest first.", [])
    next: str | None = F("Always null: the whole file is at the job's result_url.", None)


class TrainRequest(Request):
    feedback: bool = F(
        "Apply the operators' feedback to the training rows: rows confirmed normal are added, training "
        "rows equal to a confirmed anomaly are removed (recorded in the version's metrics.feedback).",
        True,
        False,
    )


# --- monitoring: scoring log, drift, feedback ----------------------------------------------------
class TopColumn(Public):
    column: str = F("Model column.", "src_bytes")
    share: float | None = F("Its share of the row's score.", 0.82)


class LoggedScore(Public):
    id: int = F("Log id of the row (feedback refers to it).", 81234)
    version: int | None = F("Model version that scored it.", 3)
    time: datetime = F("When it was scored (UTC).", WHEN)
    score: float | None = F("Anomaly score.", 41.7)
    is_anomaly: bool = F("The verdict it got.", True)
    threshold: float = F("The threshold in force then.", 3.2)
    contributions: list[TopColumn] = F("The top 3 contributing columns, most first.", [])
    values: dict[str, Scalar] | None = F(
        "The row's model-column values, when kept (a sampled share of rows, and every alarm).",
        {"src_bytes": 5_000_000},
        None,
    )
    sampled: bool = F("Whether the values were kept by the uniform sample (drift reads those).", True)
    source: Literal["v1", "v2", "csv"] = F("Which API scored it: v1 predict, v2 JSON or a CSV body.", "v2")


class LogGapPublic(Public):
    first_at: datetime = F("First row not logged (UTC).", WHEN)
    last_at: datetime = F("Last row not logged (UTC).", WHEN)
    rows: int = F("Rows scored but not logged.", 120)
    reason: Literal["queue_full", "store_error"] = F(
        "queue_full: more rows waited than AEDETECT_LOG_QUEUE_ROWS; store_error: the store refused "
        "the write.",
        "store_error",
    )
    detail: str | None = F("What the store said.", "the store refused the write (IntegrityError)")


class LogStatus(Public):
    enabled: bool = F("Whether this process logs scored rows (AEDETECT_LOG_ENABLED).", True)
    sample: float = F("Share of rows whose values are kept (AEDETECT_LOG_SAMPLE).", 1.0)
    queued: int = F("Rows waiting to be written.", 0)
    capacity: int = F("Most rows that may wait (AEDETECT_LOG_QUEUE_ROWS).", 100_000)
    written: int = F("Rows this process wrote since it started.", 51_200)
    dropped: int = F("Rows not logged because the queue was full.", 0)
    failed: int = F("Rows not logged because the store refused the write.", 0)
    pending_gap_rows: int = F("Rows of gaps not yet recorded in the registry.", 0)


class ScoreLogPage(Public):
    items: list[LoggedScore] = F("One page of logged rows, newest first.", [])
    next: str | None = F("Cursor of the next page (pass it as ?cursor=), null at the end.", None)
    gaps: list[LogGapPublic] = F("Rows of this model scored in the window but not logged.", [])
    log: LogStatus = F("The scoring log of the process that answered.", None)


class DriftWindow(Public):
    since: datetime = F("Start of the window (UTC, included).", WHEN)
    until: datetime = F("End of the window (UTC, excluded).", WHEN)
    duration: str | None = F("The window as asked (null when given by since).", "24h")


VerdictName = Literal["stable", "watch", "drifted", "no_data"]


class ColumnDriftPublic(Public):
    column: str = F("Model column.", "temperature")
    kind: Literal["numeric", "categorical"] = F("How the version encodes it.", "numeric")
    rows: int = F("Sampled rows compared.", 2400)
    psi: float | None = F("Population stability index against training.", 0.31)
    ks: float | None = F("Numeric: Kolmogorov-Smirnov statistic against training.", 0.24, None)
    unseen_share: float | None = F("Categorical: share of values outside the training categories.", 0.1, None)
    missing_share: float | None = F("Share of missing values in the window.", 0.0)
    training_missing_share: float = F("Share of missing values in training.", 0.0)
    verdict: VerdictName = F("stable, watch or drifted (no_data: nothing to compare).", "drifted")


class RatePoint(Public):
    since: datetime = F("Start of the interval (UTC).", WHEN)
    until: datetime = F("End of the interval (UTC).", WHEN)
    rows: int = F("Rows scored in it.", 100)
    anomalies: int = F("Alarms among them.", 2)
    rate: float | None = F("Their share (null without rows).", 0.02)


class AnomalyRate(Public):
    rows: int = F("Rows the version scored in the window.", 2400)
    anomalies: int = F("Alarms among them.", 170)
    observed: float | None = F("Their share.", 0.071)
    expected: float = F("Share of the training scores above the current threshold.", 0.01)
    ratio: float | None = F("observed / expected.", 7.1)
    verdict: VerdictName = F("Verdict on the rate.", "drifted")
    series: list[RatePoint] = F("The window in 24 intervals, for a chart.", [])


class ScoreShift(Public):
    rows: int = F("Scores compared.", 2400)
    psi: float | None = F("PSI over the training score deciles.", 0.4)
    ks: float | None = F("KS statistic against the training scores.", 0.3)
    median: float | None = F("Median score in the window.", 2.9)
    training_median: float | None = F("Median training score.", 1.1)
    verdict: VerdictName = F("Verdict on the score distribution.", "drifted")


class DriftReport(Public):
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version.", 3)
    threshold: float = F("The threshold in force.", 3.2)
    window: DriftWindow = F("The time window compared.", None)
    rows: int = F("Rows the version scored in the window.", 2400)
    sampled_rows: int = F("Rows whose values were compared per column.", 2400)
    verdict: VerdictName = F("The worst verdict of every figure.", "drifted")
    anomaly_rate: AnomalyRate = F("Anomaly rate against what the threshold expects.", None)
    scores: ScoreShift = F("Shift of the score distribution.", None)
    columns: list[ColumnDriftPublic] = F("Every model column, most drifted first.", [])
    limits: dict[str, list[float]] = F(
        "Watch and drift limits of each figure.", {"psi": [0.1, 0.25], "ks": [0.1, 0.2]}
    )


class ProfilePublic(Public):
    model: str = F("Model name.", "plant-7")
    version: int | None = F("Model version.", 3)
    rows: int = F("Training rows.", 125_973)
    columns: list[dict[str, Any]] = F(
        "Per column: kind, missing_share and a numeric distribution (values with the training share at "
        "or below and below each) or category shares (with other_share and distinct).",
        [],
    )
    scores: dict[str, Any] | None = F("The distribution of the training scores.", None)


class FeedbackItem(Request):
    id: int = F("Log id of a scored row (GET /api/v2/models/{name}/scores).", 81234, ge=1, le=2**63 - 1)
    label: Literal["anomaly", "normal"] = F("What the row was.", "normal")
    note: str | None = F("Why (kept with the label).", "sensor recalibrated", None, max_length=10_000)


class FeedbackCreate(Request):
    """``{"items": [{"id", "label", "note"?}]}`` for logged rows, or ``{"rows": [...], "label",
    "note"?}`` for rows not in the log."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"items": [{"id": 81234, "label": "normal", "note": "sensor recalibrated"}]},
                {"rows": [{"temperature": 71.2, "line": "L7"}], "label": "anomaly"},
            ]
        },
    )

    items: list[FeedbackItem] | None = F("Labels of logged rows.", None, None, max_length=10_000)
    rows: list[dict[str, Any]] | None = F(
        "Rows not in the log (every model column), all with the same label.", None, None, max_length=10_000
    )
    label: Literal["anomaly", "normal"] | None = F("The label of the rows.", None, None)
    note: str | None = F("Why (kept with each row's label).", None, None, max_length=10_000)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.items is None) == (self.rows is None):
            raise ValueError(
                "send either `items` (logged rows) or `rows` with a `label`, not both or neither"
            )
        if self.rows is not None and self.label is None:
            raise ValueError("`rows` need a `label`: anomaly or normal")
        if self.items is not None and (self.label is not None or self.note is not None):
            raise ValueError("with `items`, give each item its own `label` and `note`")
        return self


class FeedbackPublic(Public):
    id: int = F("Feedback id.", 17)
    log_id: int | None = F("Log id of the row (null: a row given with the label).", 81234)
    label: Literal["anomaly", "normal"] = F("What the row was.", "normal")
    note: str | None = F("Why.", "sensor recalibrated")
    actor: str | None = F(
        "Who labelled it: the API key's name and id (null with auth off).", "line 7 (k_3f9a)"
    )
    version: int | None = F("Model version that scored the row.", 3)
    score: float | None = F("Its score then.", 4.1)
    is_anomaly: bool | None = F("The verdict it got then.", True)
    threshold: float | None = F("The threshold then.", 3.2)
    scored_at: datetime | None = F("When it was scored (UTC).", WHEN)
    values: dict[str, Scalar] | None = F("Its values, when kept (training and rescoring use them).", None)
    created_at: datetime | None = F("When it was first labelled (UTC).", WHEN)
    updated_at: datetime | None = F("When the label last changed (UTC).", WHEN)


class FeedbackSaved(Public):
    items: list[FeedbackPublic] = F("The labels as stored, in the order sent.", [])
    next: str | None = F("Always null.", None)


class FeedbackFigures(Public):
    labelled: int = F("Labelled rows counted.", 50)
    precision: float | None = F("Share of the labelled alarms confirmed as anomalies.", 0.62)
    recall: float | None = F("Share of the confirmed anomalies that were alarms.", 0.94)
    false_alarm_rate: float | None = F("Share of the rows confirmed normal that were alarms.", 0.4)
    confirmed_anomalies: int = F("Alarms confirmed as anomalies.", 31)
    false_alarms: int = F("Alarms confirmed normal.", 19)
    missed_anomalies: int = F("Confirmed anomalies that were not alarms.", 2)
    confirmed_normals: int = F("Rows confirmed normal that were not alarms.", 28)


class FeedbackList(FeedbackFigures):
    items: list[FeedbackPublic] = F("One page of labels, newest first.", [])
    next: str | None = F("Cursor of the next page, null at the end.", None)
    version: int | None = F(
        "null: the figures use the verdicts rows got when scored; a number: as that version judges "
        "the labelled rows now.",
        None,
    )
    threshold: float | None = F("With version: its threshold in force.", None)
    unscored: int = F("With version: labelled rows it could not score (no values kept).", 0)


class ProposalFigures(Public):
    threshold: float = F("The threshold.", 4.6)
    training_alarm_rate: float | None = F("Share of the training scores above it.", 0.004)
    feedback: FeedbackFigures | None = F("The labelled rows judged at it (null without labels).", None)


class ThresholdProposal(Public):
    strategy: str = F("The strategy asked.", "feedback")
    value: float = F("The threshold it would set.", 4.6)
    inputs: dict[str, Any] = F("What the strategy used.", {"target_precision": 0.9})
    current: ProposalFigures = F("What the threshold in force gives.", None)
    proposed: ProposalFigures = F("What the proposed threshold would have given.", None)
