"""Bodies of the feedback routes: operators' labels of scored rows and the figures they give."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import ConfigDict, model_validator

from aedetect.api.v2.schemas.common import WHEN, F, Public, Request, Scalar


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
