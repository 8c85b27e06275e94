"""The one CSV reader of aedetect: plant exports in, typed :class:`pandas.DataFrame` out.

Used by the CLI and the HTTP service alike, so that a file reads the same everywhere. It detects the
encoding (UTF-8 with or without BOM, CP949/EUC-KR, UTF-16 with BOM) and the delimiter (comma,
semicolon, tab, pipe), streams the file through pyarrow's incremental CSV reader so that memory stays
bounded, and turns every failure a user can cause into :class:`~aedetect.errors.InvalidInput` (with the
line number where there is one) or :class:`~aedetect.errors.PayloadTooLarge`.

Reading rules (the old server read with pandas and ``skipinitialspace=True``; these keep its results):

* Spaces and tabs around values and column names are removed, and a quoted field may follow
  whitespace after a delimiter (``1, "a,b"`` is two fields).
* Empty cells and pandas' usual missing markers (``NA``, ``N/A``, ``NaN``, ``NULL``, ``None``, ...)
  become NaN. Blank lines are skipped.
* A column whose values are all integers is ``int64`` (``float64`` if it has a missing cell); all
  numbers, ``float64``; anything else stays text (pandas ``str``). A column with no value at all is
  ``float64`` (all NaN). Types are decided over the whole file, also when it is read in chunks.
* A file with a header and no data rows gives an empty frame with those columns; a file with no
  content at all is an error.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from charset_normalizer import from_bytes

from aedetect.errors import InvalidInput, NotFound, PayloadTooLarge

CsvSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
"""A path (``str`` is always a path, never CSV text), the file's bytes, or a binary file object."""

DELIMITERS: Final = (",", ";", "\t", "|")
"""Delimiters the sniffer chooses among, in order of preference on a tie."""

NA_VALUES: Final = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
"""Cell texts read as missing (pandas' defaults, which the old server used)."""

SAMPLE_BYTES: Final = 64 * 1024
_MAX_SAMPLE_BYTES: Final = 8 * 1024 * 1024
_SAMPLE_RECORDS: Final = 50
_READ_BYTES: Final = 1024 * 1024
_PROBE_ROWS: Final = 1000
_BLOCK_BYTES: Final = 8 * 1024 * 1024
_BOMS: Final = {
    "utf-8-sig": (codecs.BOM_UTF8,),
    "utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
}
_NA_ARRAY: Final = pa.array(sorted(NA_VALUES), type=pa.string())
_NULL_STRING: Final = pa.scalar(None, type=pa.string())

Kind = Literal["empty", "int", "float", "text"]


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
    """

    encoding: str
    delimiter: str
    has_header: bool


class _RaggedRow(Exception):
    """Arrow met a row with the wrong number of fields (located again by :func:`_locate_ragged`)."""

    def __init__(self, actual: int, text: str | None) -> None:
        super().__init__(text)
        self.actual = actual
        self.text = text


class _Undecodable(Exception):
    """Bytes that the chosen encoding cannot decode, at raw offset ``offset``; ``after_ascii``
    when all the sampled bytes were ASCII (so the guess of the encoding had nothing to go on)."""

    def __init__(self, encoding: str, offset: int, after_ascii: bool) -> None:
        super().__init__(f"{encoding} at byte {offset}")
        self.encoding = encoding
        self.offset = offset
        self.after_ascii = after_ascii


def _binary_error(offset: int, detail: str = "") -> InvalidInput:
    suffix = f": {detail}" if detail else ""
    return InvalidInput(f"not a text CSV file (binary content near byte {offset}{suffix})")


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")


# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------


class _Input:
    """A CSV source that can be opened (and, where possible, opened again from its start)."""

    def __init__(self, source: CsvSource, max_bytes: int | None) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise InvalidInput(f"max_bytes must be positive, got {max_bytes}", field="max_bytes")
        self.max_bytes = max_bytes
        self._path: Path | None = None
        self._data: bytes | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        self._opened: list[IO[bytes]] = []
        if isinstance(source, str | os.PathLike):
            self._path = Path(source)
            if not self._path.exists():
                raise NotFound(f"no such file: {self._path}")
            if not self._path.is_file():
                raise InvalidInput(f"not a file: {self._path}")
            if max_bytes is not None and self._path.stat().st_size > max_bytes:
                raise _too_large(max_bytes)
        elif isinstance(source, bytes | bytearray | memoryview):
            self._data = bytes(source)
            if max_bytes is not None and len(self._data) > max_bytes:
                raise _too_large(max_bytes)
        elif callable(getattr(source, "read", None)):
            self._file = source
            if self._rewindable_file():
                self._start = source.tell()
        else:
            raise InvalidInput(
                f"cannot read CSV from a {type(source).__name__}: pass a path, bytes or a binary file"
            )

    def _rewindable_file(self) -> bool:
        seekable = getattr(self._file, "seekable", None)
        return bool(seekable is not None and seekable())

    @property
    def rewindable(self) -> bool:
        """Whether :meth:`open` can be called again (paths, bytes and seekable files)."""
        return self._file is None or self._rewindable_file()

    def open(self) -> IO[bytes]:
        """A binary stream positioned at the start of the CSV data."""
        if self._path is not None:
            stream: IO[bytes] = self._path.open("rb")
            self._opened.append(stream)
            return stream
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._file is not None
        if self._rewindable_file():
            self._file.seek(self._start)
        return self._file

    def close(self) -> None:
        """Close the files this object opened (a caller's file object stays open)."""
        for stream in self._opened:
            stream.close()
        self._opened.clear()

    def __enter__(self) -> _Input:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_sample(stream: IO[bytes], max_bytes: int | None) -> tuple[bytes, bool]:
    """The first bytes of ``stream`` (at least a few whole lines) and whether that is all of it."""
    parts: list[bytes] = []
    size = 0
    target = SAMPLE_BYTES
    while True:
        chunk = stream.read(target - size)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise _too_large(max_bytes)
        if size >= target:
            if b"".join(parts).count(b"\n") >= 3 or target >= _MAX_SAMPLE_BYTES:
                return b"".join(parts), False
            target *= 2


# --------------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------------


def _decodes(sample: bytes, encoding: str, final: bool) -> int | None:
    """None if ``sample`` decodes strictly as ``encoding``, else the offset of the first bad byte.

    With ``final=False`` a character cut at the end of the sample is not an error.
    """
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _split_bom(data: bytes, encoding: str) -> tuple[bytes, str]:
    """``data`` without the byte-order mark that ``encoding`` allows, and the codec for the rest."""
    for bom in _BOMS.get(encoding, ()):
        if data.startswith(bom):
            data = data[len(bom) :]
            break
    else:
        bom = b""
    if encoding == "utf-8-sig":
        return data, "utf-8"
    if encoding == "utf-16":
        return data, "utf-16-be" if bom == codecs.BOM_UTF16_BE else "utf-16-le"
    return data, encoding


def _check_codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}", field="encoding") from None


def _detect_encoding(sample: bytes, at_eof: bool) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, CP949, else whatever charset detection trusts."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise _binary_error(nul)
    bad_utf8 = _decodes(sample, "utf-8", at_eof)
    if bad_utf8 is None:
        return "utf-8"
    if _decodes(sample, "cp949", at_eof) is None:
        return "cp949"
    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):
        raise _binary_error(bad_utf8, "not valid UTF-8 or CP949 text")
    return str(best.encoding)


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


def _sniff_sample(
    sample: bytes, at_eof: bool, encoding: str | None, delimiter: str | None
) -> tuple[CsvFormat, list[list[str]]]:
    """The format of a file from its first bytes, and its first records parsed with that format."""
    enc = _check_codec(encoding) if encoding else _detect_encoding(sample, at_eof)
    if encoding and codecs.lookup(enc).name == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    body, codec = _split_bom(sample, enc)
    try:
        text = codecs.getincrementaldecoder(codec)("strict").decode(body, at_eof)
    except UnicodeDecodeError as exc:
        raise _binary_error(len(sample) - len(body) + exc.start, f"not valid {enc} text") from None
    if not text.strip():
        raise InvalidInput("the file is empty")
    if delimiter is None:
        delimiter = _sniff_delimiter(text, at_eof)
    elif len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidInput(f"the delimiter must be one character, got {delimiter!r}", field="delimiter")
    records = _sample_records(text, delimiter, at_eof)
    return CsvFormat(enc, delimiter, _guess_header(records)), records


def sniff_csv(
    source: CsvSource,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_bytes: int | None = None,
) -> CsvFormat:
    """Detect the encoding, delimiter and header of a CSV file from its first bytes.

    Parameters
    ----------
    source : path, bytes or binary file object
        A seekable file object is put back where it was; a non-seekable one loses the sample.
    encoding, delimiter : str, optional
        Known values, which skip that part of the detection.
    max_bytes : int, optional
        Raise :class:`~aedetect.errors.PayloadTooLarge` for a larger file.

    Raises
    ------
    InvalidInput
        The file is empty or not text.
    """
    with _Input(source, max_bytes) as inp:
        stream = inp.open()
        sample, at_eof = _read_sample(stream, max_bytes)
        fmt, _ = _sniff_sample(sample, at_eof, encoding, delimiter)
        if inp.rewindable:
            inp.open()
        return fmt


# --------------------------------------------------------------------------------------------------
# Streaming: raw bytes -> checked UTF-8 -> Arrow record batches of strings
# --------------------------------------------------------------------------------------------------


class _Utf8Stream(io.RawIOBase):
    """What Arrow reads: the source as UTF-8, checked as it streams.

    Counts bytes against ``max_bytes``, rejects NUL bytes and undecodable bytes (with their
    offset), drops the BOM, re-encodes non-UTF-8 input block by block, and removes whitespace
    between a delimiter and an opening quote so that Arrow sees ``1, "a,b"`` as two fields.
    """

    def __init__(self, raw: IO[bytes], prefix: bytes, fmt: CsvFormat, max_bytes: int | None) -> None:
        super().__init__()
        self._raw = raw
        self._prefix = prefix
        self._ascii_sample = prefix.isascii()
        self._fmt = fmt
        self._max_bytes = max_bytes
        codec = codecs.lookup(fmt.encoding).name
        self._passthrough = codec in ("utf-8", "utf-8-sig")
        self._check_nul = not codec.startswith(("utf-16", "utf-32"))
        self._decoder: codecs.IncrementalDecoder | None = None
        self._consumed = 0
        self._started = False
        self._eof = False
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._carry = b""
        self._context = b"\n"
        self._space = b" " if fmt.delimiter == "\t" else b" \t"
        self._quoted_gaps = [bytes([c]) + b'"' for c in self._space]
        delim = re.escape(fmt.delimiter.encode())
        self._gap = re.compile(rb"([\r\n" + delim + rb"])[" + self._space + rb"]+(?=\")")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        limit = None if size is None or size < 0 else size
        while not self._eof and (limit is None or self._buffered < limit):
            self._fill()
        data = b"".join(self._chunks)
        if limit is None or limit >= len(data):
            self._chunks, self._buffered = [], 0
            return data
        self._chunks, self._buffered = [data[limit:]], len(data) - limit
        return data[:limit]

    def _fill(self) -> None:
        block = self._prefix or self._raw.read(_READ_BYTES)
        self._prefix = b""
        start = self._consumed
        self._consumed += len(block)
        if self._max_bytes is not None and self._consumed > self._max_bytes:
            raise _too_large(self._max_bytes)
        if self._check_nul:
            nul = block.find(b"\x00")
            if nul >= 0:
                raise _binary_error(start + nul)
        if not self._started:
            self._started = True
            stripped, codec = _split_bom(block, self._fmt.encoding)
            block, start = stripped, start + len(block) - len(stripped)
            self._decoder = codecs.getincrementaldecoder(codec)("strict")
        assert self._decoder is not None
        final = not block
        data = block
        ascii_run = block.isascii() and not self._decoder.getstate()[0]
        if not (ascii_run and self._passthrough):
            try:
                text = self._decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                offset = max(start + exc.start, 0)
                raise _Undecodable(self._fmt.encoding, offset, self._ascii_sample) from None
            if not self._passthrough:
                data = text.encode("utf-8")
        fixed = self._close_gaps(data, final)
        self._chunks.append(fixed)
        self._buffered += len(fixed)
        self._eof = final

    def _close_gaps(self, data: bytes, final: bool) -> bytes:
        buf = self._carry + data
        self._carry = b""
        if not final:
            kept = buf.rstrip(self._space)
            self._carry = buf[len(kept) :]
            buf = kept
        if not buf:
            return b""
        fixed = buf
        if b'"' in buf and any(gap in buf for gap in self._quoted_gaps):
            fixed = self._gap.sub(rb"\1", self._context + buf)[1:]
        self._context = buf[-1:]
        return fixed


def _column_ids(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _string_batches(stream: _Utf8Stream, fmt: CsvFormat, n_columns: int) -> Iterator[pa.RecordBatch]:
    """Every record of the stream (the header too) as batches of ``n_columns`` string columns."""
    ragged: list[_RaggedRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        if row.text is not None and not row.text.strip():
            return "skip"
        ragged.append(_RaggedRow(row.actual_columns, row.text))
        return "error"

    ids = _column_ids(n_columns)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=ids, block_size=_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(ids, pa.string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,
            ),
        )
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch
    except pa.ArrowInvalid as exc:
        if ragged:
            raise ragged[0] from None
        if "straddle" in str(exc):
            raise InvalidInput(
                f"a record of the file is longer than {_BLOCK_BYTES // (1024 * 1024)} MiB "
                "(an unclosed quote?)"
            ) from None
        raise InvalidInput(f"cannot parse the CSV file: {exc}") from None


def _clean(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
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


class _Schema:
    """Column kinds, widened batch by batch over a whole file, and the column names."""

    def __init__(self, n_columns: int) -> None:
        self.names: list[str] = []
        self.kinds: list[Kind] = ["empty"] * n_columns
        self.has_nulls = [False] * n_columns

    def update(self, batch: pa.RecordBatch) -> None:
        for i, column in enumerate(batch.columns):
            self.kinds[i] = _widen(self.kinds[i], column)
            self.has_nulls[i] = self.has_nulls[i] or column.null_count > 0

    def arrow_type(self, i: int) -> pa.DataType:
        kind = self.kinds[i]
        if kind == "text":
            return pa.string()
        if kind == "int" and not self.has_nulls[i]:
            return pa.int64()
        return pa.float64()

    def to_frame(self, table: pa.Table, start: int = 0) -> pd.DataFrame:
        """A DataFrame of ``table``'s cleaned string columns cast to the schema's types."""
        arrays = [pc.cast(table.column(i), self.arrow_type(i)) for i in range(table.num_columns)]
        frame = pa.Table.from_arrays(arrays, names=_column_ids(len(arrays))).to_pandas()
        frame.columns = pd.Index(self.names)
        frame.index = pd.RangeIndex(start, start + len(frame))
        return frame


def _check_names(names: Sequence[str], what: str) -> list[str]:
    """Stripped names, or an error naming the empty and duplicated ones."""
    cleaned = [str(n).strip() for n in names]
    empty = [i + 1 for i, n in enumerate(cleaned) if not n]
    if empty:
        positions = ", ".join(str(i) for i in empty)
        raise InvalidInput(f"empty column name in {what}: column {positions} has no name")
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(cleaned):
        seen.setdefault(n, []).append(i + 1)
    dups = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if dups:
        listed = "; ".join(f"{n!r} (columns {', '.join(str(p) for p in pos)})" for n, pos in dups.items())
        raise InvalidInput(f"duplicate column names in {what}: {listed}")
    return cleaned


@dataclass
class _Plan:
    """What a read needs to know before streaming: format, column count and whether row 1 is names."""

    fmt: CsvFormat
    n_columns: int
    names: list[str] | None
    skip_header: bool
    expected_note: str


def _count(n: int, noun: str) -> str:
    return f"{n} {noun} was" if n == 1 else f"{n} {noun}s were"


def _plan(
    fmt: CsvFormat, records: list[list[str]], names: Sequence[str] | None, header: bool | None
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
    if given is not None:
        note = f"{_count(len(given), 'name')} given"
    elif has_header:
        note = f"header has {n_columns} columns"
    else:
        note = f"line 1 has {n_columns} fields"
    return _Plan(CsvFormat(fmt.encoding, fmt.delimiter, has_header), n_columns, given, has_header, note)


def _locate_ragged(inp: _Input, plan: _Plan) -> tuple[int, int] | None:
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


def _ragged_error(inp: _Input, plan: _Plan, row: _RaggedRow) -> InvalidInput:
    found = _locate_ragged(inp, plan)
    if found is not None:
        line, fields = found
        return InvalidInput(
            f"line {line} has {fields} fields, expected {plan.n_columns} ({plan.expected_note})"
        )
    text = (row.text or "")[:200]
    return InvalidInput(
        f"a record has {row.actual} fields, expected {plan.n_columns} ({plan.expected_note}): {text!r}"
    )


def _clean_batches(inp: _Input, plan: _Plan, stream: _Utf8Stream) -> Iterator[pa.RecordBatch]:
    """Cleaned string batches of the data rows; fills in ``plan.names`` from the header first."""
    seen_header = not plan.skip_header
    try:
        for raw in _string_batches(stream, plan.fmt, plan.n_columns):
            batch = raw
            if not seen_header and batch.num_rows:
                header_names = [batch.column(i)[0].as_py() for i in range(batch.num_columns)]
                names = _check_names(header_names, "the header")
                if plan.names is None:
                    plan.names = names
                batch = batch.slice(1)
                seen_header = True
            cleaned = [_clean(c) for c in batch.columns]
            yield pa.RecordBatch.from_arrays(cleaned, names=_column_ids(plan.n_columns))
    except _RaggedRow as row:
        raise _ragged_error(inp, plan, row) from None
    if plan.names is None:
        plan.names = [f"column_{i + 1}" for i in range(plan.n_columns)]


def _open_batches(
    inp: _Input,
    names: Sequence[str] | None,
    header: bool | None,
    encoding: str | None,
    delimiter: str | None,
) -> tuple[_Plan, Iterator[pa.RecordBatch]]:
    """Sniff the source and plan the read; the batches stream from the same pass."""
    stream = inp.open()
    sample, at_eof = _read_sample(stream, inp.max_bytes)
    fmt, records = _sniff_sample(sample, at_eof, encoding, delimiter)
    plan = _plan(fmt, records, names, header)
    return plan, _clean_batches(inp, plan, _Utf8Stream(stream, sample, plan.fmt, inp.max_bytes))


def _scan(
    inp: _Input,
    names: Sequence[str] | None,
    header: bool | None,
    encoding: str | None,
    delimiter: str | None,
    keep: bool,
) -> tuple[_Plan, _Schema, list[pa.RecordBatch]]:
    """Read the whole source once: its plan, the column kinds over all rows and, if ``keep``, the
    cleaned batches.

    A file whose sampled first kilobytes were plain ASCII and that turns out not to be UTF-8 (CP949
    text further on) is read again as CP949 when the source can be read again.
    """
    try:
        return _scan_once(inp, names, header, encoding, delimiter, keep)
    except _Undecodable as exc:
        if not (encoding is None and exc.encoding == "utf-8" and exc.after_ascii and inp.rewindable):
            detail = f"not valid {exc.encoding} text; if it is text, give its encoding (e.g. cp949)"
            raise _binary_error(exc.offset, detail) from None
        failed_at = exc.offset
    try:
        return _scan_once(inp, names, header, "cp949", delimiter, keep)
    except _Undecodable:
        raise _binary_error(failed_at, "not valid UTF-8 or CP949 text") from None


def _scan_once(
    inp: _Input,
    names: Sequence[str] | None,
    header: bool | None,
    encoding: str | None,
    delimiter: str | None,
    keep: bool,
) -> tuple[_Plan, _Schema, list[pa.RecordBatch]]:
    plan, batches = _open_batches(inp, names, header, encoding, delimiter)
    schema = _Schema(plan.n_columns)
    kept: list[pa.RecordBatch] = []
    for batch in batches:
        schema.update(batch)
        if keep:
            kept.append(batch)
    assert plan.names is not None
    schema.names = plan.names
    return plan, schema, kept


def read_csv(
    source: CsvSource,
    *,
    names: Sequence[str] | None = None,
    header: bool | None = True,
    max_bytes: int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
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

    Raises
    ------
    InvalidInput
        Empty or binary file, a record with the wrong number of fields (its line number is given),
        empty or duplicate column names, names that do not match the columns.
    NotFound
        A path that does not exist.
    PayloadTooLarge
        The file is larger than ``max_bytes``.
    """
    with _Input(source, max_bytes) as inp:
        _, schema, batches = _scan(inp, names, header, encoding, delimiter, keep=True)
        table = pa.Table.from_batches(batches, schema=_string_schema(len(schema.names)))
        del batches
        return schema.to_frame(table)


def iter_csv_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = 100_000,
    names: Sequence[str] | None = None,
    header: bool | None = True,
    max_bytes: int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Read a CSV file as DataFrames of ``chunk_rows`` rows (the last one shorter), in bounded memory.

    The file is read twice: once to settle each column's type over the whole file, once to yield
    the chunks, so that every chunk has the same dtypes and ``pd.concat(chunks)`` equals
    :func:`read_csv` of the same file. Each chunk's index continues the previous one (row position
    in the file). Parameters and errors are those of :func:`read_csv`.
    """
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}", field="chunk_rows")
    with _Input(path, max_bytes) as inp:
        plan, schema, _ = _scan(inp, names, header, encoding, delimiter, keep=False)
        stream = inp.open()
        sample, _ = _read_sample(stream, inp.max_bytes)
        batches = _clean_batches(inp, plan, _Utf8Stream(stream, sample, plan.fmt, inp.max_bytes))
        start = 0
        for table in _rebatch(batches, chunk_rows, plan.n_columns):
            yield schema.to_frame(table, start)
            start += table.num_rows


def _string_schema(n_columns: int) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in _column_ids(n_columns)])


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
