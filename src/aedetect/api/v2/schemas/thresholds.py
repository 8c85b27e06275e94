"""Bodies of a version's threshold routes: revisions, how to set one, what a threshold would
flag and what a strategy proposes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import ConfigDict, model_validator

from aedetect.api.v2.schemas.common import DATASET_EXAMPLE, WHEN, F, Public, Request
from aedetect.api.v2.schemas.evaluation import Confusion
from aedetect.api.v2.schemas.feedback import FeedbackFigures
from aedetect.errors import quoted


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
