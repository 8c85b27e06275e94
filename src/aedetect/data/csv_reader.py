"""The one CSV reader of aedetect: plant exports in, typed :class:`pandas.DataFrame` out.

Used by the CLI and the HTTP service alike, so that a file reads the same everywhere. It detects the
encoding (UTF-8 with or without BOM, CP949/EUC-KR, UTF-16 with BOM) and the delimiter (comma,
semicolon, tab, pipe), streams the file through pyarrow's incremental CSV reader so that memory stays
bounded, and turns every failure a user can cause into :class:`~aedetect.errors.InvalidInput` (with the
line number where there is one) or :class:`~aedetect.errors.PayloadTooLarge`.

The work is split by concern: :mod:`~aedetect.data.csv_charset` detects the encoding (and refuses
known binary formats saying what they are, :mod:`~aedetect.data.filetype`),
:mod:`~aedetect.data.csv_dialect` sniffs the delimiter and header, :mod:`~aedetect.data.csv_stream`
opens sources and streams them to pyarrow, :mod:`~aedetect.data.csv_types` settles column types;
this module holds the reading rules (column names) and the public functions. Excel workbooks are
read as CSV by :mod:`~aedetect.data.tables`.

Reading rules (the old server read with pandas and ``skipinitialspace=True``; these keep its results):

* Spaces and tabs around values and column names are removed, and a quoted field may follow
  whitespace after a delimiter (``1, "a,b"`` is two fields).
* Empty cells and pandas' usual missing markers (``NA``, ``N/A``, ``NaN``, ``NULL``, ``None``, ...)
  become NaN. Blank lines are skipped.
* A column whose values are all integers is ``int64`` (``float64`` if it has a missing cell); all
  numbers, ``float64``; all numbers with a decimal comma (``179,0``, ``1.234,5``) where the
  delimiter is not a comma, ``float64`` (``decimal=`` overrides); anything else stays text
  (pandas ``str``). A column with no value at all is
  ``float64`` (all NaN). Types are decided over the whole file, also when it is read in chunks.
* A file with a header and no data rows gives an empty frame with those columns; a file with no
  content at all is an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import pandas as pd
import pyarrow as pa

from aedetect.data.csv_charset import binary_error, encoding_name, mixed_encoding_error
from aedetect.data.csv_dialect import DELIMITERS, CsvFormat, sniff_sample
from aedetect.data.csv_stream import (
    BLOCK_BYTES,
    LONG_BLOCK_BYTES,
    SAMPLE_BYTES,
    CsvInput,
    CsvSource,
    LongRecord,
    RaggedRow,
    ReadLimits,
    Undecodable,
    Utf8Stream,
    column_ids,
    read_sample,
    string_batches,
    too_many_columns,
)
from aedetect.data.csv_types import NA_VALUES, Schema, check_decimal, clean, comma_allowed
from aedetect.errors import InvalidInput, listed, quoted

__all__ = [
    "DELIMITERS",
    "NA_VALUES",
    "SAMPLE_BYTES",
    "CsvFormat",
    "CsvSource",
    "iter_csv_chunks",
    "read_csv",
    "sniff_csv",
]


@dataclass(frozen=True)
class _Ask:
    """What the caller said of the file; ``None`` leaves that part to detection."""

    names: Sequence[str] | None = None
    header: bool | None = True
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None

    def __post_init__(self) -> None:
        check_decimal(self.decimal)


def sniff_csv(
    source: CsvSource,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_bytes: int | None = None,
    max_columns: int | None = None,
    max_line_bytes: int | None = None,
) -> CsvFormat:
    """Detect the encoding, delimiter and header of a CSV file from its first bytes.

    Parameters
    ----------
    source : path, bytes or binary file object
        A seekable file object is put back where it was; a non-seekable one loses the sample.
    encoding, delimiter : str, optional
        Known values, which skip that part of the detection.
    max_bytes, max_columns, max_line_bytes : int, optional
        Limits, as for :func:`read_csv`.

    Raises
    ------
    InvalidInput
        The file is empty or not text.
    PayloadTooLarge
        A limit is exceeded.
    """
    limits = ReadLimits(max_bytes, max_columns, max_line_bytes)
    with CsvInput(source, limits) as inp:
        stream = inp.open()
        sample, at_eof = read_sample(stream, limits)
        fmt, _ = sniff_sample(sample, at_eof, encoding, delimiter, max_columns)
        if inp.rewindable:
            inp.open()
        return fmt


def _check_names(names: Sequence[str], what: str) -> list[str]:
    """Stripped names, or an error naming the empty and duplicated ones."""
    cleaned = [str(n).strip() for n in names]
    empty = [i + 1 for i, n in enumerate(cleaned) if not n]
    if empty:
        positions = listed(empty)
        raise InvalidInput(f"empty column name in {what}: column {positions} has no name")
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(cleaned):
        seen.setdefault(n, []).append(i + 1)
    dups = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if dups:
        found = "; ".join(f"{quoted(n)} (columns {listed(pos)})" for n, pos in list(dups.items())[:5])
        more = f"; and {len(dups) - 5} more" if len(dups) > 5 else ""
        raise InvalidInput(f"duplicate column names in {what}: {found}{more}")
    return cleaned


@dataclass
class _Plan:
    """What a read needs to know before streaming: format, column count, whether row 1 is names,
    and the block size Arrow parses in."""

    fmt: CsvFormat
    n_columns: int
    names: list[str] | None
    skip_header: bool
    expected_note: str
    block_bytes: int = BLOCK_BYTES


def _count(n: int, noun: str) -> str:
    return f"{n} {noun} was" if n == 1 else f"{n} {noun}s were"


def _plan(
    fmt: CsvFormat,
    records: list[list[str]],
    names: Sequence[str] | None,
    header: bool | None,
    max_columns: int | None,
) -> _Plan:
    has_header = fmt.has_header if header is None else header
    first = len(records[0]) if records else 0
    given = _check_names(names, "names") if names is not None else None
    if given is not None and first and len(given) != first:
        raise InvalidInput(
            f"{_count(len(given), 'name')} given but the file has {first} columns", field="names"
        )
    n_columns = len(given) if given is not None else first
    if n_columns == 0:
        raise InvalidInput("cannot find the columns: the first line of the file could not be parsed")
    if max_columns is not None and n_columns > max_columns:
        raise too_many_columns(n_columns, max_columns)
    if given is not None:
        note = f"{_count(len(given), 'name')} given"
    elif has_header:
        note = f"header has {n_columns} columns"
    else:
        note = f"line 1 has {n_columns} fields"
    return _Plan(replace(fmt, has_header=has_header), n_columns, given, has_header, note)


def _locate_ragged(inp: CsvInput, plan: _Plan) -> tuple[int, int] | None:
    """Line number and field count of the first record whose field count is wrong, if findable."""
    if not inp.rewindable:
        return None
    text = io.TextIOWrapper(inp.open(), encoding=plan.fmt.encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=plan.fmt.delimiter, skipinitialspace=True)
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != plan.n_columns:
                return reader.line_num, len(record)
    except csv.Error:
        return None
    finally:
        text.detach()
    return None


def _ragged_error(inp: CsvInput, plan: _Plan, row: RaggedRow) -> InvalidInput:
    found = _locate_ragged(inp, plan)
    if found is not None:
        line, fields = found
        return InvalidInput(
            f"line {line} has {fields} fields, expected {plan.n_columns} ({plan.expected_note})"
        )
    return InvalidInput(
        f"a record has {row.actual} fields, expected {plan.n_columns} ({plan.expected_note}): "
        f"{quoted(row.text or '')}"
    )


def _clean_batches(inp: CsvInput, plan: _Plan, stream: Utf8Stream) -> Iterator[pa.RecordBatch]:
    """Cleaned string batches of the data rows; fills in ``plan.names`` from the header first."""
    seen_header = not plan.skip_header
    try:
        for raw in string_batches(stream, plan.fmt, plan.n_columns, plan.block_bytes):
            batch = raw
            if not seen_header and batch.num_rows:
                header_names = [batch.column(i)[0].as_py() for i in range(batch.num_columns)]
                names = _check_names(header_names, "the header")
                if plan.names is None:
                    plan.names = names
                batch = batch.slice(1)
                seen_header = True
            cleaned = [clean(c) for c in batch.columns]
            yield pa.RecordBatch.from_arrays(cleaned, names=column_ids(plan.n_columns))
    except RaggedRow as row:
        raise _ragged_error(inp, plan, row) from None
    if plan.names is None:
        plan.names = [f"column_{i + 1}" for i in range(plan.n_columns)]


def _open_batches(inp: CsvInput, ask: _Ask, block_bytes: int) -> tuple[_Plan, Iterator[pa.RecordBatch]]:
    """Sniff the source and plan the read; the batches stream from the same pass."""
    stream = inp.open()
    sample, at_eof = read_sample(stream, inp.limits)
    fmt, records = sniff_sample(sample, at_eof, ask.encoding, ask.delimiter, inp.limits.max_columns)
    plan = _plan(fmt, records, ask.names, ask.header, inp.limits.max_columns)
    plan.block_bytes = block_bytes
    return plan, _clean_batches(inp, plan, Utf8Stream(stream, sample, plan.fmt, inp.limits))


def _scan(inp: CsvInput, ask: _Ask, keep: bool) -> tuple[_Plan, Schema, list[pa.RecordBatch]]:
    """Read the whole source once: its plan (with the decimal mark found), the column kinds over
    all rows and, if ``keep``, the cleaned batches.

    Blocks are small (:data:`~aedetect.data.csv_stream.BLOCK_BYTES`, which bounds Arrow's
    read-ahead); a file with a longer record is read again in larger blocks when it can be read
    again, and a source that cannot is read in larger blocks from the start.

    A file whose sampled first kilobytes were plain ASCII and that turns out not to be UTF-8 (CP949
    text further on) is read again as CP949 when the source can be read again. A file that decodes
    in part (non-ASCII lines that decode, then one that does not) mixes encodings and is refused
    naming that line: nothing is ever decoded with replacement characters.
    """
    block_bytes = BLOCK_BYTES if inp.rewindable else LONG_BLOCK_BYTES
    try:
        return _scan_decoded(inp, ask, keep, block_bytes)
    except LongRecord:
        if block_bytes >= LONG_BLOCK_BYTES:
            raise
    return _scan_decoded(inp, ask, keep, LONG_BLOCK_BYTES)


def _scan_decoded(
    inp: CsvInput, ask: _Ask, keep: bool, block_bytes: int
) -> tuple[_Plan, Schema, list[pa.RecordBatch]]:
    """:func:`_scan` in blocks of ``block_bytes``, falling back from UTF-8 to CP949 (see there)."""
    try:
        return _scan_once(inp, ask, keep, block_bytes)
    except Undecodable as exc:
        if exc.good_line is not None:
            raise mixed_encoding_error(exc.line, exc.encoding, exc.good_line) from None
        if not (ask.encoding is None and exc.encoding == "utf-8" and exc.after_ascii and inp.rewindable):
            raise _undecodable_error(exc) from None
        first = exc
    try:
        return _scan_once(inp, replace(ask, encoding="cp949"), keep, block_bytes)
    except Undecodable as exc:
        if exc.good_line is not None:
            raise mixed_encoding_error(exc.line, exc.encoding, exc.good_line) from None
        raise binary_error(first.offset, f"line {first.line}: not valid UTF-8 or CP949 text") from None


def _undecodable_error(exc: Undecodable) -> InvalidInput:
    detail = (
        f"line {exc.line}: not valid {encoding_name(exc.encoding)} text; if it is text, give its "
        "encoding (e.g. cp949)"
    )
    return binary_error(exc.offset, detail)


def _scan_once(
    inp: CsvInput, ask: _Ask, keep: bool, block_bytes: int
) -> tuple[_Plan, Schema, list[pa.RecordBatch]]:
    plan, batches = _open_batches(inp, ask, block_bytes)
    schema = Schema(plan.n_columns, comma_allowed(ask.decimal, plan.fmt.delimiter))
    kept: list[pa.RecordBatch] = []
    for batch in batches:
        schema.update(batch)
        if keep:
            kept.append(batch)
    assert plan.names is not None
    schema.names = plan.names
    schema.settle()
    plan.fmt = replace(plan.fmt, decimal=ask.decimal or schema.decimal)
    return plan, schema, kept


def read_csv(
    source: CsvSource,
    *,
    names: Sequence[str] | None = None,
    header: bool | None = True,
    max_bytes: int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    max_columns: int | None = None,
    max_line_bytes: int | None = None,
) -> pd.DataFrame:
    """Read a whole CSV file into a typed DataFrame (the rules are in the module docstring).

    The file streams through pyarrow in blocks; only the parsed columns are held, never the whole
    raw text.

    Parameters
    ----------
    source : path, bytes or binary file object
        ``str`` is a path. A file object is read from its current position.
    names : sequence of str, optional
        Column names. With ``header=False`` they name a headerless file; with ``header=True`` they
        replace the file's header. Their count must match the file's columns.
    header : bool or None, default True
        Whether the first record holds column names; ``None`` guesses from the first lines. A
        headerless file read without ``names`` gets ``column_1``, ``column_2``, ...
    max_bytes : int, optional
        Raise :class:`~aedetect.errors.PayloadTooLarge` for a larger file.
    encoding, delimiter : str, optional
        Skip detection and use these.
    decimal : {".", ","}, optional
        The decimal mark. By default decimal commas (``179,0``, ``1.234,5``) are detected in
        columns that are not plain numbers when the delimiter is not a comma; ``"."`` turns that
        off, ``","`` looks for them also in a comma-separated file (quoted values).
    max_columns, max_line_bytes : int, optional
        Raise :class:`~aedetect.errors.PayloadTooLarge` (``field`` names the limit) for a first line
        of more columns, or any line of more bytes (in UTF-8). Both are checked before the columns are
        parsed, so a file over them costs memory in proportion to the limits, not to the file.

    Raises
    ------
    InvalidInput
        Empty or binary file, a record with the wrong number of fields (its line number is given),
        empty or duplicate column names, names that do not match the columns.
    NotFound
        A path that does not exist.
    PayloadTooLarge
        The file is larger than ``max_bytes``, or over ``max_columns`` or ``max_line_bytes``.
    """
    with CsvInput(source, ReadLimits(max_bytes, max_columns, max_line_bytes)) as inp:
        ask = _Ask(names, header, encoding, delimiter, decimal)
        _, schema, batches = _scan(inp, ask, keep=True)
        table = pa.Table.from_batches(batches, schema=_string_schema(len(schema.names)))
        del batches
        return schema.to_frame(table)


def iter_csv_chunks(
    path: CsvSource,
    *,
    chunk_rows: int = 100_000,
    names: Sequence[str] | None = None,
    header: bool | None = True,
    max_bytes: int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    max_columns: int | None = None,
    max_line_bytes: int | None = None,
    on_format: Callable[[CsvFormat], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Read a CSV file as DataFrames of ``chunk_rows`` rows (the last one shorter), in bounded memory.

    The file is read twice: once to settle each column's type over the whole file, once to yield
    the chunks, so that every chunk has the same dtypes and ``pd.concat(chunks)`` equals
    :func:`read_csv` of the same file. Each chunk's index continues the previous one (row position
    in the file). Parameters and errors are those of :func:`read_csv`; ``on_format``, if given,
    is called with the format found (encoding, delimiter, header, decimal mark) before the first
    chunk.
    """
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}", field="chunk_rows")
    with CsvInput(path, ReadLimits(max_bytes, max_columns, max_line_bytes)) as inp:
        plan, schema, _ = _scan(inp, _Ask(names, header, encoding, delimiter, decimal), keep=False)
        if on_format is not None:
            on_format(plan.fmt)
        stream = inp.open()
        sample, _ = read_sample(stream, inp.limits)
        batches = _clean_batches(inp, plan, Utf8Stream(stream, sample, plan.fmt, inp.limits))
        start = 0
        for table in _rebatch(batches, chunk_rows, plan.n_columns):
            yield schema.to_frame(table, start)
            start += table.num_rows


def _string_schema(n_columns: int) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in column_ids(n_columns)])


def _rebatch(batches: Iterator[pa.RecordBatch], rows: int, n_columns: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last one shorter) from batches of any size."""
    schema = _string_schema(n_columns)
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending = rest.to_batches()
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=schema)
