"""Bodies of the scoring route: rows (or a dataset) in, scores with their reasons out."""

from __future__ import annotations

from typing import Any, Self

from pydantic import model_validator

from aedetect.api.v2.schemas.common import F, Public, Request, Scalar


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
