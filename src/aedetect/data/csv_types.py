"""Column types of CSV files: missing markers, the kinds settled over a whole file, and numbers
written with a decimal comma (``179,0``, ``-3,25``, ``1.234,5``).

Part of the CSV reader (:mod:`aedetect.data.csv_reader`); the names here are its internals.

A column is read as decimal-comma numbers when it is not plain numbers and every present value
is one (digits with an optional ``,`` fraction and optional ``.`` thousands groups), and only
where a decimal comma can be meant: the delimiter is not a comma, or the reader is told
``decimal=","``. It is decided over the whole file like every other kind, so a chunked read and
a whole read agree.
"""

from __future__ import annotations

from typing import Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aedetect.errors import InvalidInput, quoted

NA_VALUES: Final = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
"""Cell texts read as missing (pandas' defaults, which the old server used)."""

DECIMAL_COMMA: Final = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?|,\d+)$"
"""A number written with a decimal comma and optional thousands dots; plain integers match too
(a column of ``12`` and ``12,5`` is one of decimal-comma numbers)."""

DECIMALS: Final = (".", ",")

_PROBE_ROWS: Final = 1000
_NA_ARRAY: Final = pa.array(sorted(NA_VALUES), type=pa.string())
_NULL_STRING: Final = pa.scalar(None, type=pa.string())

Kind = Literal["empty", "int", "float", "text", "comma"]


def check_decimal(decimal: str | None) -> str | None:
    if decimal is not None and decimal not in DECIMALS:
        raise InvalidInput(f"the decimal mark must be '.' or ',', got {quoted(decimal)}", field="decimal")
    return decimal


def comma_allowed(decimal: str | None, delimiter: str) -> bool:
    """Whether decimal commas are looked for: asked for, or detected where the delimiter is not a comma."""
    return decimal == "," or (decimal is None and delimiter != ",")


def clean(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Trim whitespace and turn missing markers into nulls."""
    trimmed = pc.ascii_trim_whitespace(column)
    return pc.if_else(pc.is_in(trimmed, value_set=_NA_ARRAY), _NULL_STRING, trimmed)


def _casts(column: pa.Array | pa.ChunkedArray, to: pa.DataType) -> bool:
    """Whether every value of ``column`` parses as ``to``; a failing head is checked first because
    a failed cast of a long column is slow."""
    try:
        if len(column) > _PROBE_ROWS:
            pc.cast(column.slice(0, _PROBE_ROWS), to)
        pc.cast(column, to)
    except pa.ArrowInvalid:
        return False
    return True


def _widen(kind: Kind, column: pa.Array | pa.ChunkedArray) -> Kind:
    """The narrowest kind that holds both the values seen so far (``kind``) and ``column``."""
    if kind == "text" or column.null_count == len(column):
        return kind
    if kind in ("empty", "int") and _casts(column, pa.int64()):
        return "int"
    return "float" if _casts(column, pa.float64()) else "text"


def _all_comma_numbers(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether every present value of ``column`` is a decimal-comma number."""
    present = column.null_count < len(column)
    return not present or bool(pc.all(pc.match_substring_regex(column, DECIMAL_COMMA)).as_py())


def comma_to_float(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Decimal-comma numbers as float64: thousands dots dropped, the comma made a point."""
    plain = pc.replace_substring(pc.replace_substring(column, ".", ""), ",", ".")
    return pc.cast(plain, pa.float64())


class Schema:
    """Column kinds, widened batch by batch over a whole file, and the column names.

    ``comma``: whether decimal-comma numbers are looked for (:func:`comma_allowed`); each column
    keeps whether all its values so far are such numbers, and :meth:`settle` makes a text column
    whose values all were a ``"comma"`` column (float64)."""

    def __init__(self, n_columns: int, comma: bool = False) -> None:
        self.names: list[str] = []
        self.kinds: list[Kind] = ["empty"] * n_columns
        self.has_nulls = [False] * n_columns
        self.comma_ok = [comma] * n_columns

    def update(self, batch: pa.RecordBatch) -> None:
        for i, column in enumerate(batch.columns):
            self.kinds[i] = _widen(self.kinds[i], column)
            self.has_nulls[i] = self.has_nulls[i] or column.null_count > 0
            if self.comma_ok[i] and self.kinds[i] not in ("empty", "int"):  # integers all match
                self.comma_ok[i] = _all_comma_numbers(column)

    def settle(self) -> None:
        """Make the text columns of decimal-comma numbers float columns (after the last batch)."""
        for i, kind in enumerate(self.kinds):
            if kind == "text" and self.comma_ok[i]:
                self.kinds[i] = "comma"

    @property
    def decimal(self) -> str:
        """The decimal mark the file's numbers were read with."""
        return "," if "comma" in self.kinds else "."

    def arrow_type(self, i: int) -> pa.DataType:
        kind = self.kinds[i]
        if kind == "text":
            return pa.string()
        if kind == "int" and not self.has_nulls[i]:
            return pa.int64()
        return pa.float64()

    def to_frame(self, table: pa.Table, start: int = 0) -> pd.DataFrame:
        """A DataFrame of ``table``'s cleaned string columns cast to the schema's types."""
        arrays = [
            comma_to_float(table.column(i))
            if self.kinds[i] == "comma"
            else pc.cast(table.column(i), self.arrow_type(i))
            for i in range(table.num_columns)
        ]
        frame = pa.Table.from_arrays(arrays, names=[str(i) for i in range(len(arrays))]).to_pandas()
        frame.columns = pd.Index(self.names)
        frame.index = pd.RangeIndex(start, start + len(frame))
        return frame
