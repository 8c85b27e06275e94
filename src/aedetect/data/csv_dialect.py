"""Dialect sniffing of CSV files: the delimiter and whether the first record is a header.

Part of the CSV reader (:mod:`aedetect.data.csv_reader`); :class:`CsvFormat` is public, the rest
are its internals.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from typing import Final

from aedetect.data.csv_charset import binary_error, check_codec, check_not_binary, detect_encoding, split_bom
from aedetect.data.csv_types import DECIMAL_COMMA, NA_VALUES
from aedetect.errors import InvalidInput, PayloadTooLarge, quoted

_COMMA: Final = re.compile(DECIMAL_COMMA)

DELIMITERS: Final = (",", ";", "\t", "|")
"""Delimiters the sniffer chooses among, in order of preference on a tie."""

_SAMPLE_RECORDS: Final = 50


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written: what :func:`sniff_csv` finds and the readers use.

    Parameters
    ----------
    encoding : str
        Python codec name: ``"utf-8"``, ``"utf-8-sig"`` (UTF-8 with BOM), ``"cp949"`` (also reads
        EUC-KR), ``"utf-16"`` (with BOM), or another codec found by charset detection.
    delimiter : str
        One character: ``","``, ``";"``, ``"\\t"`` or ``"|"``.
    has_header : bool
        Whether the first record holds column names (a guess from the first lines when sniffed).
    decimal : str
        The decimal mark of the numbers: ``"."``, or ``","`` when a column was read as
        decimal-comma numbers (``179,0``); from the first lines when sniffed.
    """

    encoding: str
    delimiter: str
    has_header: bool
    decimal: str = "."


def _sample_records(text: str, delimiter: str, at_eof: bool) -> list[list[str]]:
    """The first non-blank records of ``text``; a record possibly cut by the sample end is dropped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    records: list[list[str]] = []
    exhausted = True
    try:
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                records.append(record)
            if len(records) > _SAMPLE_RECORDS:
                exhausted = False
                break
    except csv.Error:
        exhausted = False  # an unclosed quote at the sample's end: keep the records before it
    if exhausted and not at_eof and len(records) > 1:
        records.pop()
    return records[:_SAMPLE_RECORDS]


def _sniff_delimiter(text: str, at_eof: bool) -> str:
    """The candidate that splits the first records into the most consistent number of fields > 1."""
    best: tuple[float, int, int] | None = None
    chosen = DELIMITERS[0]
    for rank, delimiter in enumerate(DELIMITERS):
        counts = [len(r) for r in _sample_records(text, delimiter, at_eof)]
        if not counts:
            continue
        modal = max(set(counts), key=lambda c: (counts.count(c), c))
        if modal < 2:
            continue
        score = (counts.count(modal) / len(counts), modal, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _guess_header(records: list[list[str]]) -> bool:
    """A first record of distinct, non-numeric names is a header (csv.Sniffer's idea, simplified)."""
    if not records:
        return True
    first = [v.strip() for v in records[0]]
    if any(v == "" or _looks_numeric(v) for v in first):
        return False
    return len(set(first)) == len(first)


def _check_width(text: str, max_columns: int) -> None:
    """Refuse a first line of more than ``max_columns`` fields under any candidate delimiter
    before the sample is parsed record by record (which would hold every field of every record).
    Raw delimiter counts bound the field counts, so a normal header is never parsed here."""
    first = text.split("\n", 1)[0]
    for delimiter in DELIMITERS:
        if first.count(delimiter) + 1 <= max_columns:
            continue
        record = next(csv.reader([first], delimiter=delimiter, skipinitialspace=True), [])
        if len(record) > max_columns:
            raise PayloadTooLarge(
                f"the first line has {len(record)} columns (split at {quoted(delimiter)}), over the "
                f"limit of {max_columns} columns",
                field="max_columns",
            )


def sniff_sample(
    sample: bytes,
    at_eof: bool,
    encoding: str | None,
    delimiter: str | None,
    max_columns: int | None = None,
) -> tuple[CsvFormat, list[list[str]]]:
    """The format of a file from its first bytes, and its first records parsed with that format."""
    check_not_binary(sample)
    enc = check_codec(encoding) if encoding else detect_encoding(sample, at_eof)
    if encoding and codecs.lookup(enc).name == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    body, codec = split_bom(sample, enc)
    try:
        text = codecs.getincrementaldecoder(codec)("strict").decode(body, at_eof)
    except UnicodeDecodeError as exc:
        raise binary_error(len(sample) - len(body) + exc.start, f"not valid {enc} text") from None
    if not text.strip():
        raise InvalidInput("the file is empty")
    if max_columns is not None:
        _check_width(text, max_columns)
    if delimiter is None:
        delimiter = _sniff_delimiter(text, at_eof)
    elif len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':  # the parser reads ASCII
        raise InvalidInput(
            f"the delimiter must be one ASCII character, got {quoted(delimiter)}", field="delimiter"
        )
    records = _sample_records(text, delimiter, at_eof)
    has_header = _guess_header(records)
    decimal = _guess_decimal(records[1 if has_header else 0 :]) if delimiter != "," else "."
    return CsvFormat(enc, delimiter, has_header, decimal), records


def _guess_decimal(records: list[list[str]]) -> str:
    """``","`` when some column of the sampled records holds decimal-comma numbers only (and at
    least one with a comma), else ``"."``: the reader settles it over the whole file."""
    width = max((len(r) for r in records), default=0)
    for i in range(width):
        values = [r[i].strip() for r in records if len(r) > i and r[i].strip() not in NA_VALUES]
        if values and any("," in v for v in values) and all(_COMMA.match(v) for v in values):
            return ","
    return "."
