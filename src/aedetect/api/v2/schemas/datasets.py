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
