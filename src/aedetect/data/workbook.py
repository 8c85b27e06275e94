"""Excel workbooks read as CSV text, so that a workbook flows through the one CSV reader (types,
limits, errors) and is kept as the CSV it reads as.

A workbook is recognised by its content, never by its file name: an ``.xlsx``/``.xlsm`` is a ZIP
archive holding ``xl/workbook.xml`` (read with openpyxl in read-only mode, row by row, so memory
stays bounded by a row, not by the sheet); an ``.xls`` is an OLE2 file holding a ``Workbook``
stream (read with python-calamine, whole sheet at a time, which the format itself bounds to
65,536 rows by 256 columns). Only the values Excel cached are read: formulas are never evaluated
and macros never run.

A sheet is chosen by name, else the first one. Its first non-empty row is the header; numbers are
written as Excel shows them (``1`` rather than ``1.0``), dates as ``2024-01-05 08:30:00``, truth
values as ``TRUE``/``FALSE``, and text is quoted, so that a sheet reads as the CSV that Excel's
"Save as CSV" would write.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import IO, Any, Final

from aedetect.data.filetype import OLE2_MAGIC, ZIP_MAGIC, NotText
from aedetect.errors import InvalidInput, PayloadTooLarge, listed, quoted

XLSX: Final = "xlsx"
XLS: Final = "xls"
_WORKBOOK_PART: Final = "xl/workbook.xml"
_SHARED_STRINGS: Final = "xl/sharedStrings.xml"
_HEAD_BYTES: Final = 8


@dataclass(frozen=True)
class SheetRead:
    """What :func:`workbook_to_csv` read: the workbook kind, the sheet, every sheet's name, and
    the bytes of CSV written."""

    kind: str
    sheet: str
    sheets: list[str]
    csv_bytes: int


def workbook_kind(file: IO[bytes]) -> str | None:
    """``"xlsx"`` or ``"xls"`` when the seekable binary ``file`` is an Excel workbook, else
    ``None``; the file is put back at its start."""
    file.seek(0)
    head = file.read(_HEAD_BYTES)
    file.seek(0)
    try:
        if head.startswith(ZIP_MAGIC):
            with zipfile.ZipFile(file) as archive:
                return XLSX if _WORKBOOK_PART in archive.namelist() else None
        if head.startswith(OLE2_MAGIC):
            return XLS
    except zipfile.BadZipFile:
        return None
    finally:
        file.seek(0)
    return None


def _missing_reader(kind: str, package: str) -> NotText:
    what = "an Excel workbook (.xlsx)" if kind == XLSX else "an old Excel workbook (.xls)"
    return NotText(
        f"this is {what}, and the Excel reader ({package}) is not installed here: install it "
        "(pip install 'aedetect[excel]'), or save the sheet as CSV (UTF-8) and send that",
        field="file",
    )


def _unknown_sheet(sheet: str, names: list[str]) -> InvalidInput:
    return InvalidInput(
        f"this Excel workbook has no sheet {quoted(sheet)}; its sheets are {listed(names)}: "
        "choose one of them with the 'sheet' parameter",
        field="sheet",
    )


def _cell(value: Any) -> Any:
    """A cell's cached value as the CSV text Excel would write (numbers kept as numbers)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


class _CsvSink:
    """Rows written as quoted UTF-8 CSV to a binary file, refused past ``max_bytes``."""

    def __init__(self, out: IO[bytes], max_bytes: int | None, max_columns: int | None) -> None:
        self._out = out
        self._encode = codecs.getincrementalencoder("utf-8")().encode
        self._buffer = _Line()
        self._writer = csv.writer(self._buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        self.max_bytes = max_bytes
        self.max_columns = max_columns
        self.written = 0

    def write(self, row: list[Any]) -> None:
        self._writer.writerow(row)
        data = self._encode(self._buffer.take())
        self.written += len(data)
        if self.max_bytes is not None and self.written > self.max_bytes:
            raise PayloadTooLarge(
                f"the sheet, as CSV, is larger than the limit of {self.max_bytes} bytes", field="max_bytes"
            )
        self._out.write(data)


class _Line:
    """The text csv.writer writes, taken line by line."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._parts.append(text)

    def take(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        return text


def _write_rows(rows: Iterable[Iterable[Any]], sink: _CsvSink, sheet: str) -> int | None:
    """Rows of cell values as CSV: trailing empty cells dropped, short rows padded to the header,
    empty rows kept as blank lines (so line numbers in errors are the sheet's row numbers).
    Returns the header's width, ``None`` for a sheet with no value."""
    width: int | None = None
    for number, values in enumerate(rows, start=1):
        row = [_cell(v) for v in values]
        while row and (row[-1] is None or row[-1] == ""):
            row.pop()
        if not row:
            sink.write([])
            continue
        if width is None:
            width = len(row)
            if sink.max_columns is not None and width > sink.max_columns:
                raise PayloadTooLarge(
                    f"sheet {quoted(sheet)} has {width} columns, over the limit of {sink.max_columns} "
                    "columns",
                    field="max_columns",
                )
        elif len(row) > width:
            raise InvalidInput(
                f"row {number} of sheet {quoted(sheet)} has a value in column {len(row)}, right of "
                f"the header's {width} columns: name that column in the header row or clear the "
                "value (the header is the sheet's first non-empty row: delete title rows above the table)",
                field="file",
            )
        sink.write(row + [None] * (width - len(row)))
    return width


def _xlsx_rows(file: IO[bytes], sheet: str | None, max_bytes: int | None) -> Generator[Any]:
    """Yields the sheet's name and every sheet's names, then its rows (openpyxl, read-only)."""
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise _missing_reader(XLSX, "openpyxl") from None
    with zipfile.ZipFile(file) as archive:
        names = set(archive.namelist())
        strings = archive.getinfo(_SHARED_STRINGS).file_size if _SHARED_STRINGS in names else 0
    if max_bytes is not None and strings > max_bytes:
        raise PayloadTooLarge(
            f"the workbook's text table has {strings} bytes, over the limit of {max_bytes} bytes",
            field="max_bytes",
        )
    file.seek(0)
    book = load_workbook(file, read_only=True, data_only=True, keep_links=False, keep_vba=False)
    try:
        sheets = list(book.sheetnames)
        chosen = _choose(sheet, sheets)
        worksheet = book[chosen]
        if not hasattr(worksheet, "iter_rows"):
            raise InvalidInput(f"sheet {quoted(chosen)} is a chart, not a table", field="sheet")
        yield chosen, sheets
        yield from worksheet.iter_rows(values_only=True)
    finally:
        book.close()


def _xls_rows(file: IO[bytes], sheet: str | None) -> Generator[Any]:
    """Yields the sheet's name and every sheet's names, then its rows (python-calamine)."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        raise _missing_reader(XLS, "python-calamine") from None
    try:
        book = CalamineWorkbook.from_filelike(file)
    except Exception as exc:  # calamine's own error types vary by version
        raise NotText(
            f"this looks like an old Office document (OLE2) but not a readable .xls workbook ({exc}); "
            "a password-protected workbook looks like this too: open it in Excel or LibreOffice "
            "(remove any password) and save it as .xlsx or CSV",
            field="file",
        ) from None
    sheets = list(book.sheet_names)
    chosen = _choose(sheet, sheets)
    yield chosen, sheets
    yield from book.get_sheet_by_name(chosen).iter_rows()


def _choose(sheet: str | None, sheets: list[str]) -> str:
    if not sheets:
        raise InvalidInput("this Excel workbook has no sheets", field="file")
    if sheet is None:
        return sheets[0]
    if sheet not in sheets:
        raise _unknown_sheet(sheet, sheets)
    return sheet


def workbook_to_csv(
    file: IO[bytes],
    out: IO[bytes],
    kind: str,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_columns: int | None = None,
) -> SheetRead:
    """Write sheet ``sheet`` (default: the first) of workbook ``file`` (of ``kind``, from
    :func:`workbook_kind`) to ``out`` as UTF-8 CSV; ``InvalidInput`` naming the sheets when there
    is no such sheet, ``PayloadTooLarge`` past ``max_bytes`` of CSV or ``max_columns``."""
    file.seek(0)
    rows = _xlsx_rows(file, sheet, max_bytes) if kind == XLSX else _xls_rows(file, sheet)
    try:
        chosen, sheets = next(rows)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise NotText(
            f"this is an Excel workbook (.xlsx) that cannot be read ({exc}): open it in Excel or "
            "LibreOffice and save it again, or save the sheet as CSV",
            field="file",
        ) from None
    sink = _CsvSink(out, max_bytes, max_columns)
    try:
        width = _write_rows(rows, sink, chosen)
    finally:
        rows.close()
    if width is None:
        raise InvalidInput(f"sheet {quoted(chosen)} of this Excel workbook is empty", field="sheet")
    return SheetRead(kind, chosen, sheets, sink.written)
