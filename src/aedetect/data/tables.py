"""Table files as people have them: CSV text, or an Excel workbook whose sheet is written as CSV
first, so that everything downstream (types, limits, errors, stored snapshots) is the CSV
reader's. The file's kind is told by its content, never by its name.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aedetect.data.csv_dialect import CsvFormat
from aedetect.data.csv_types import check_decimal
from aedetect.data.workbook import workbook_kind, workbook_to_csv
from aedetect.errors import InvalidInput


@dataclass(frozen=True)
class TableOptions:
    """What the user said of a file; ``None`` leaves it to detection. ``sheet`` is for
    workbooks; ``encoding``, ``delimiter`` and ``decimal`` for CSV text."""

    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None

    def __post_init__(self) -> None:
        check_decimal(self.decimal)

    def csv_options(self) -> dict[str, Any]:
        """Keyword arguments of the CSV reader."""
        return {"encoding": self.encoding, "delimiter": self.delimiter, "decimal": self.decimal}

    @property
    def overrides_csv(self) -> bool:
        """Whether a CSV reading option was given (the file then reads otherwise than detected)."""
        return any(v is not None for v in self.csv_options().values())


@dataclass
class TableFile:
    """A file as CSV: ``file`` is the original (CSV text) or a temporary file holding the chosen
    sheet as CSV; ``csv_options`` read it as it is meant."""

    file: IO[bytes]
    kind: str
    csv_options: dict[str, Any]
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    converted: bool = False

    def close(self) -> None:
        """Remove the temporary CSV of a workbook (the original file is the caller's)."""
        if self.converted:
            self.file.close()

    def describe(self, fmt: CsvFormat | None) -> dict[str, Any]:
        """How the file was read: its kind and sheet, and the CSV dialect of a CSV file."""
        text = self.kind == "csv" and fmt is not None
        return {
            "kind": self.kind,
            "sheet": self.sheet,
            "sheets": self.sheets or None,
            "encoding": fmt.encoding if text and fmt else None,
            "delimiter": fmt.delimiter if text and fmt else None,
            "decimal": fmt.decimal if text and fmt else None,
            "header": True,
        }


def open_table(
    file: IO[bytes],
    options: TableOptions,
    max_bytes: int | None = None,
    max_columns: int | None = None,
) -> TableFile:
    """``file`` (seekable, binary) as CSV: itself when it is text, else its sheet written as CSV
    to a temporary file (close the result to remove it). Options that do not fit the file's kind
    are refused rather than ignored."""
    kind = workbook_kind(file)
    if kind is None:
        if options.sheet is not None:
            raise InvalidInput(
                "'sheet' chooses a sheet of an Excel workbook, and this file is CSV text: leave it out",
                field="sheet",
            )
        return TableFile(file, "csv", options.csv_options())
    given = [name for name, value in options.csv_options().items() if value is not None]
    if given:
        raise InvalidInput(
            f"{given[0]!r} is for CSV text, and this file is an Excel workbook: leave it out "
            "(choose a sheet with 'sheet')",
            field=given[0],
        )
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the result's to close
    try:
        read = workbook_to_csv(file, out, kind, options.sheet, max_bytes, max_columns)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    csv_options = {"encoding": "utf-8", "delimiter": ",", "decimal": "."}
    return TableFile(out, kind, csv_options, read.sheet, read.sheets, converted=True)


@contextmanager
def table_path(path: Path, sheet: str | None = None) -> Iterator[Path]:
    """A CSV path for the file at ``path``: itself when it is CSV text (and no sheet is asked
    for), else its sheet written to a temporary CSV file that lives as long as the context."""
    if not path.is_file():
        yield path  # the CSV reader says what is wrong with it
        return
    with path.open("rb") as file:
        if workbook_kind(file) is None and sheet is None:
            yield path
            return
        table = open_table(file, TableOptions(sheet=sheet))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{path.stem}.csv"
        with table.file, target.open("wb") as out:
            shutil.copyfileobj(table.file, out)
        yield target
