"""Files as people have them, read by the data layer and the upload reader: Excel workbooks (told
by their content, whatever their name), European CSV (``;`` and decimal commas), and files that
are neither, refused saying what they look like."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from aedetect.cli.main import app
from aedetect.data import iter_csv_chunks, read_csv, sniff_csv
from aedetect.data.tables import TableOptions
from aedetect.errors import InvalidInput, PayloadTooLarge
from aedetect.services.catalog import CsvLimits, read_upload

LIMITS = CsvLimits(max_bytes=10_000_000, max_columns=100, max_line_bytes=100_000)


def plant(rows: int = 40) -> pd.DataFrame:
    """Readings of three machines: text, integers, decimals, a missing value."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "machine": rng.choice(["L1", "L2", "L3"], size=rows),
            "count": rng.integers(0, 500, size=rows),
            "temperature": (100 + rng.normal(0, 5, rows)).round(2),
            "pressure": (3 + rng.normal(0, 0.1, rows)).round(3),
        }
    )
    frame.loc[5, "pressure"] = np.nan
    return frame


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An .xlsx whose sheets hold ``sheets`` (header row first), written with openpyxl."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if isinstance(v, float) and np.isnan(v) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def kinds(columns: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(c["name"], c["kind"]) for c in columns]


def european(frame: pd.DataFrame) -> bytes:
    """``frame`` as a spreadsheet in Germany writes it: BOM, ``;``, decimal commas."""
    return frame.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")


# --- Excel workbooks -----------------------------------------------------------------------------
def test_a_workbook_named_csv_reads_like_its_csv_twin() -> None:
    frame = plant()
    twin = read_upload("plant.csv", io.BytesIO(frame.to_csv(index=False).encode()), LIMITS)
    book = read_upload("plant.csv", io.BytesIO(workbook({"Readings": frame})), LIMITS)
    assert (book.rows, kinds(book.columns)) == (twin.rows, kinds(twin.columns))
    assert book.format["kind"] == "xlsx" and book.format["sheet"] == "Readings"
    assert book.content is not None
    kept = read_csv(book.content.read())
    pd.testing.assert_frame_equal(kept, read_csv(frame.to_csv(index=False).encode()))


def test_a_sheet_is_chosen_by_name_else_the_first() -> None:
    first, second = plant(10), pd.DataFrame({"line": ["a;b", "c"], "speed": [1.5, 2.0]})
    data = workbook({"Plant": first, "Line 7": second})
    default = read_upload("book.xlsx", io.BytesIO(data), LIMITS)
    assert default.format["sheet"] == "Plant" and default.rows == 10
    chosen = read_upload("book.xlsx", io.BytesIO(data), LIMITS, TableOptions(sheet="Line 7"))
    assert chosen.format["sheet"] == "Line 7" and chosen.format["sheets"] == ["Plant", "Line 7"]
    assert chosen.names == ["line", "speed"]
    assert chosen.content is not None
    kept = read_csv(chosen.content.read())
    assert kept["line"].tolist() == ["a;b", "c"] and kept["speed"].tolist() == [1.5, 2.0]


def test_an_unknown_sheet_is_refused_naming_the_sheets() -> None:
    data = workbook({"Plant": plant(5), "Line 7": plant(5)})
    with pytest.raises(InvalidInput, match=r"no sheet 'Nope'; its sheets are Plant, Line 7") as caught:
        read_upload("book.xlsx", io.BytesIO(data), LIMITS, TableOptions(sheet="Nope"))
    assert caught.value.field == "sheet"


def test_csv_options_for_a_workbook_and_a_sheet_for_csv_are_refused() -> None:
    with pytest.raises(InvalidInput, match="'delimiter' is for CSV text"):
        read_upload("b.xlsx", io.BytesIO(workbook({"S": plant(5)})), LIMITS, TableOptions(delimiter=";"))
    with pytest.raises(InvalidInput, match="'sheet' chooses a sheet of an Excel workbook"):
        read_upload("a.csv", io.BytesIO(b"a,b\n1,2\n"), LIMITS, TableOptions(sheet="S"))


def test_cells_are_written_as_excel_shows_them_and_formulas_are_not_evaluated() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["when", "flag", "whole", "formula", None])
    sheet.append([dt.datetime(2024, 1, 5, 8, 30), True, 3.0, "=1+1"])
    sheet.append([None])
    sheet.append([dt.datetime(2024, 1, 6, 9, 0), False, 4.0, "=2+2"])
    data = io.BytesIO()
    book.save(data)
    upload = read_upload("cells.xlsx", data, LIMITS)
    assert upload.content is not None
    frame = read_csv(upload.content.read())
    assert frame["when"].tolist() == ["2024-01-05 08:30:00", "2024-01-06 09:00:00"]
    assert frame["flag"].tolist() == ["TRUE", "FALSE"]
    assert frame["whole"].dtype == np.int64
    assert frame["formula"].isna().all()  # no cached value saved: read as missing, never computed


def test_a_value_right_of_the_header_and_too_many_columns_are_refused() -> None:
    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    book.active.append([1, 2, 3])
    data = io.BytesIO()
    book.save(data)
    with pytest.raises(InvalidInput, match=r"row 2 of sheet 'Sheet' has a value in column 3"):
        read_upload("x.xlsx", data, LIMITS)
    wide = workbook({"S": pd.DataFrame([list(range(120))], columns=[f"c{i}" for i in range(120)])})
    with pytest.raises(PayloadTooLarge, match="120 columns, over the limit of 100 columns"):
        read_upload("wide.xlsx", io.BytesIO(wide), LIMITS)


def test_an_old_xls_workbook_reads_like_its_csv_twin() -> None:
    xlwt = pytest.importorskip("xlwt")
    frame = plant(12).dropna()
    book = xlwt.Workbook()
    sheet = book.add_sheet("Old")
    for j, name in enumerate(frame.columns):
        sheet.write(0, j, name)
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            sheet.write(i, j, value.item() if hasattr(value, "item") else value)
    data = io.BytesIO()
    book.save(data)
    upload = read_upload("old.csv", data, LIMITS)
    twin = read_upload("twin.csv", io.BytesIO(frame.to_csv(index=False).encode()), LIMITS)
    assert upload.format["kind"] == "xls" and upload.format["sheet"] == "Old"
    assert (upload.rows, kinds(upload.columns)) == (twin.rows, kinds(twin.columns))


def test_the_cli_trains_and_scores_a_workbook(tmp_path: Path) -> None:
    frame = plant(120)
    (tmp_path / "plant.xlsx").write_bytes(workbook({"Notes": pd.DataFrame({"x": ["y"]}), "Data": frame}))
    model = tmp_path / "model"
    args = ["--epochs", "2", "--hidden", "4,2", "--seed", "0", "--sheet", "Data"]
    done = CliRunner().invoke(app, ["train", str(tmp_path / "plant.xlsx"), "--out", str(model), *args])
    assert done.exit_code == 0, done.output
    out = tmp_path / "scored.csv"
    scored = CliRunner().invoke(
        app, ["score", str(model), str(tmp_path / "plant.xlsx"), "--sheet", "Data", "--out", str(out)]
    )
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_csv(out)) == 120


# --- European CSV --------------------------------------------------------------------------------
def test_decimal_commas_are_read_as_numbers_and_the_dialect_is_told() -> None:
    frame = plant()
    upload = read_upload("de.csv", io.BytesIO(european(frame)), LIMITS)
    assert kinds(upload.columns) == [
        ("machine", "categorical"),
        ("count", "numeric"),
        ("temperature", "numeric"),
        ("pressure", "numeric"),
    ]
    assert upload.format == {
        "kind": "csv",
        "sheet": None,
        "sheets": None,
        "encoding": "utf-8-sig",
        "delimiter": ";",
        "decimal": ",",
        "header": True,
    }
    pd.testing.assert_frame_equal(read_csv(european(frame)), read_csv(frame.to_csv(index=False).encode()))


def test_thousands_dots_and_signs_are_read() -> None:
    data = b"a;b\n1.234,5;-3,25\n12;+0,5\n,75;7\n"
    frame = read_csv(data)
    assert frame["a"].tolist() == [1234.5, 12.0, 0.75]
    assert frame["b"].tolist() == [-3.25, 0.5, 7.0]
    assert sniff_csv(data).decimal == ","


def test_decimal_point_given_keeps_comma_values_as_text_and_is_kept_as_read() -> None:
    upload = read_upload("de.csv", io.BytesIO(european(plant())), LIMITS, TableOptions(decimal="."))
    assert dict(kinds(upload.columns))["temperature"] == "categorical"
    assert upload.format["decimal"] == "."
    assert upload.content is not None
    kept = read_csv(upload.content.read())  # stored as read: detection cannot undo the choice
    assert kept["temperature"].dtype != np.float64 and "," in kept["temperature"].iloc[0]


def test_comma_separated_files_and_mixed_marks_are_not_guessed() -> None:
    assert read_csv(b'a,b\n"1,5",x\n"2,5",y\n')["a"].tolist() == ["1,5", "2,5"]
    assert read_csv(b'a,b\n"1,5",x\n"2,5",y\n', decimal=",")["a"].tolist() == [1.5, 2.5]
    mixed = read_csv(b"a;b\n1.5;x\n2,5;y\n")
    assert mixed["a"].tolist() == ["1.5", "2,5"]
    with pytest.raises(InvalidInput, match="decimal mark must be"):
        read_csv(b"a;b\n1;2\n", decimal=";")


def test_chunked_and_whole_reads_agree_on_a_decimal_comma_file() -> None:
    # integers over more than one parsing block (1 MiB), then one decimal comma at the end
    lines = ["id;value;note"] + [f"{i};{i};n{i}" for i in range(150_000)] + ["150000;1,5;late"]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 2 * 1024 * 1024
    whole = read_csv(data)
    assert whole["value"].dtype == np.float64 and whole["value"].iloc[-1] == 1.5
    chunks = list(iter_csv_chunks(data, chunk_rows=40_000))
    assert all(c["value"].dtype == np.float64 for c in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)
    found: list[object] = []
    list(iter_csv_chunks(data, chunk_rows=40_000, on_format=found.append))
    assert [getattr(f, "decimal", None) for f in found] == [","]


# --- files that are not tables -------------------------------------------------------------------
def _zip(name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, "a,b\n1,2\n")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "this looks like a PDF document"),
        (_zip("data.csv"), "this looks like a ZIP archive, not a text CSV file: extract it"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this looks like an image (PNG)"),
        (gzip.compress(b"a,b\n1,2\n"), "this looks like a gzip-compressed file"),
        (b"PAR1\x15\x04\x15\x10\x15\x14L", "this looks like a Parquet file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "old Office document (OLE2"),
    ],
)
def test_a_file_that_is_not_a_table_says_what_it_looks_like(data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^file 'x\.csv': .*{re.escape(says)}"):
        read_upload("x.csv", io.BytesIO(data), LIMITS)
    if not data.startswith(b"\xd0\xcf"):
        with pytest.raises(InvalidInput, match=re.escape(says)):
            read_csv(data)


def test_a_workbook_without_the_excel_reader_says_it_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "openpyxl", None)  # as where it is not installed
    with pytest.raises(InvalidInput, match=r"this is an Excel workbook \(\.xlsx\), and the Excel reader"):
        read_upload("book.csv", io.BytesIO(workbook({"S": plant(5)})), LIMITS)
    with pytest.raises(InvalidInput, match=r"this looks like an Excel workbook \(\.xlsx\)"):
        read_csv(workbook({"S": plant(5)}))


def test_text_that_starts_like_a_signature_is_still_csv() -> None:
    assert read_csv(b"PAR1,PAR2\n1,2\n").columns.tolist() == ["PAR1", "PAR2"]
    assert read_csv(b"BZh,x\n1,2\n").columns.tolist() == ["BZh", "x"]
