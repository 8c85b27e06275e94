"""Bodies of the dataset routes: an uploaded CSV file with its inferred schema."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aedetect.api.v2.schemas.common import DATASET_EXAMPLE, WHEN, F, Public, Scalar


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
