"""Streaming reads of CSV files: sources that can be opened again, the first sample, and the
checked UTF-8 stream that pyarrow parses into batches of string columns in bounded memory.

Part of the CSV reader (:mod:`aedetect.data.csv_reader`); the names here are its internals.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from aedetect.data.csv_charset import binary_error, split_bom
from aedetect.data.csv_dialect import CsvFormat
from aedetect.errors import InvalidInput, NotFound, PayloadTooLarge

CsvSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
"""A path (``str`` is always a path, never CSV text), the file's bytes, or a binary file object."""

SAMPLE_BYTES: Final = 64 * 1024
_MAX_SAMPLE_BYTES: Final = 8 * 1024 * 1024
_READ_BYTES: Final = 1024 * 1024
BLOCK_BYTES: Final = 1024 * 1024
"""Bytes per block Arrow parses. Arrow's streaming reader reads up to 32 blocks ahead of the
batches taken from it, held as Python bytes outside its memory pool, so the block size bounds
that read-ahead: 8 MiB blocks held about 300 MiB while a 1M-row file was read, 1 MiB blocks
about 40 MiB, and parse no slower. Arrow joins a record across two blocks at most; a longer one
makes the reader read the file again with :data:`LONG_BLOCK_BYTES`."""
LONG_BLOCK_BYTES: Final = 8 * 1024 * 1024
"""The block size of a read again after a record too long for :data:`BLOCK_BYTES`, and of a
source that cannot be read again (so could not be retried)."""
_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")


class RaggedRow(Exception):
    """Arrow met a row with the wrong number of fields (located again by :func:`_locate_ragged`)."""

    def __init__(self, actual: int, text: str | None) -> None:
        super().__init__(text)
        self.actual = actual
        self.text = text


class LongRecord(InvalidInput):
    """A record longer than the block size (an unclosed quote, or a huge field); the reader reads
    the file again with :data:`LONG_BLOCK_BYTES` blocks where it can."""

    def __init__(self, block_bytes: int) -> None:
        super().__init__(
            f"a record of the file is longer than {block_bytes // (1024 * 1024)} MiB (an unclosed quote?)"
        )
        self.block_bytes = block_bytes


class Undecodable(Exception):
    """Bytes that the chosen encoding cannot decode, at raw offset ``offset`` on line ``line``;
    ``after_ascii`` when all the sampled bytes were ASCII (so the guess of the encoding had nothing
    to go on); ``good_line``: the first line with non-ASCII text that did decode, if any (then the
    file mixes encodings)."""

    def __init__(
        self, encoding: str, offset: int, after_ascii: bool, line: int, good_line: int | None
    ) -> None:
        super().__init__(f"{encoding} at byte {offset}")
        self.encoding = encoding
        self.offset = offset
        self.after_ascii = after_ascii
        self.line = line
        self.good_line = good_line


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes", field="max_bytes")


def too_many_columns(found: int, max_columns: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file has {found} columns, over the limit of {max_columns} columns", field="max_columns"
    )


@dataclass(frozen=True)
class ReadLimits:
    """What a read accepts, each bound checked as soon as the bytes it needs have arrived, so a
    file over a limit costs memory in proportion to the limit, not to the file.

    ``max_bytes``: the whole file; ``max_columns``: fields of the first line; ``max_line_bytes``:
    any physical line (in UTF-8), the header first. ``None`` means unbounded.
    """

    max_bytes: int | None = None
    max_columns: int | None = None
    max_line_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_columns", "max_line_bytes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInput(f"{name} must be positive, got {value}", field=name)


class LineMeter:
    """Counts the lines of a byte stream fed in pieces and refuses one longer than ``limit`` bytes
    (``PayloadTooLarge`` naming the line), looking only at newline positions, vectorised."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.lines = 0
        self._open = 0

    def feed(self, data: bytes) -> None:
        if self.limit is None or not data:
            return
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        if newlines.size == 0:
            self._open += len(data)
            self._check(self._open, 0)
            return
        self._check(self._open + int(newlines[0]), 0)
        if newlines.size > 1:
            inner = np.diff(newlines) - 1
            over = np.flatnonzero(inner > self.limit)
            if over.size:
                self._check(int(inner[over[0]]), int(over[0]) + 1)
        self.lines += int(newlines.size)
        self._open = len(data) - int(newlines[-1]) - 1
        self._check(self._open, 0)

    def _check(self, length: int, offset: int) -> None:
        if self.limit is not None and length > self.limit:
            raise PayloadTooLarge(
                f"line {self.lines + offset + 1} of the file is longer than the limit of {self.limit} "
                "bytes per line",
                field="max_line_bytes",
            )


class CsvInput:
    """A CSV source that can be opened (and, where possible, opened again from its start)."""

    def __init__(self, source: CsvSource, limits: ReadLimits) -> None:
        self.limits = limits
        max_bytes = self.max_bytes = limits.max_bytes
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
                raise too_large(max_bytes)
        elif isinstance(source, bytes | bytearray | memoryview):
            self._data = bytes(source)
            if max_bytes is not None and len(self._data) > max_bytes:
                raise too_large(max_bytes)
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

    def __enter__(self) -> CsvInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_sample(stream: IO[bytes], limits: ReadLimits) -> tuple[bytes, bool]:
    """The first bytes of ``stream`` (at least a few whole lines) and whether that is all of it.

    A first line over ``limits.max_line_bytes`` is refused after reading little more than the limit.
    """
    parts: list[bytes] = []
    size = 0
    target = SAMPLE_BYTES
    max_bytes = limits.max_bytes
    meter = LineMeter(limits.max_line_bytes)
    while True:
        chunk = stream.read(target - size)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise too_large(max_bytes)
        meter.feed(chunk)
        if size >= target:
            if b"".join(parts).count(b"\n") >= 3 or target >= _MAX_SAMPLE_BYTES:
                return b"".join(parts), False
            target *= 2


class Utf8Stream(io.RawIOBase):
    """What Arrow reads: the source as UTF-8, checked as it streams.

    Counts bytes against ``max_bytes`` and line lengths against ``max_line_bytes``, rejects NUL
    bytes and undecodable bytes (with their offset), drops the BOM, re-encodes non-UTF-8 input
    block by block, and removes whitespace between a delimiter and an opening quote so that Arrow
    sees ``1, "a,b"`` as two fields.
    """

    def __init__(self, raw: IO[bytes], prefix: bytes, fmt: CsvFormat, limits: ReadLimits) -> None:
        super().__init__()
        self._raw = raw
        self._prefix = prefix
        self._ascii_sample = prefix.isascii()
        self._fmt = fmt
        self._max_bytes = limits.max_bytes
        self._lines = LineMeter(limits.max_line_bytes)
        codec = codecs.lookup(fmt.encoding).name
        self._passthrough = codec in ("utf-8", "utf-8-sig")
        self._check_nul = not codec.startswith(("utf-16", "utf-32"))
        self._decoder: codecs.IncrementalDecoder | None = None
        self._raw_lines = 0
        self._text_line: int | None = None
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
            raise too_large(self._max_bytes)
        if self._check_nul:
            nul = block.find(b"\x00")
            if nul >= 0:
                raise binary_error(start + nul)
        if not self._started:
            self._started = True
            stripped, codec = split_bom(block, self._fmt.encoding)
            block, start = stripped, start + len(block) - len(stripped)
            self._decoder = codecs.getincrementaldecoder(codec)("strict")
        assert self._decoder is not None
        final = not block
        data = block
        lines_before = self._raw_lines
        self._raw_lines += block.count(b"\n")
        ascii_run = block.isascii() and not self._decoder.getstate()[0]
        if not (ascii_run and self._passthrough):
            try:
                text = self._decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                bad = max(exc.start, 0)
                line_start = block.rfind(b"\n", 0, bad) + 1
                line = lines_before + block.count(b"\n", 0, line_start) + 1
                self._note_text(block[:line_start], lines_before)
                raise Undecodable(
                    self._fmt.encoding, start + bad, self._ascii_sample, line, self._text_line
                ) from None
            self._note_text(block, lines_before)
            if not self._passthrough:
                data = text.encode("utf-8")
        self._lines.feed(data)
        fixed = self._close_gaps(data, final)
        self._chunks.append(fixed)
        self._buffered += len(fixed)
        self._eof = final

    def _note_text(self, decoded: bytes, lines_before: int) -> None:
        """Remember the first line holding non-ASCII text that decoded (a later undecodable line
        then means the file mixes encodings)."""
        if self._text_line is None and (found := _NON_ASCII.search(decoded)) is not None:
            self._text_line = lines_before + decoded.count(b"\n", 0, found.start()) + 1

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


def column_ids(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def string_batches(
    stream: Utf8Stream, fmt: CsvFormat, n_columns: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.RecordBatch]:
    """Every record of the stream (the header too) as batches of ``n_columns`` string columns,
    parsed in blocks of ``block_bytes`` (:class:`LongRecord` for a record that does not fit)."""
    ragged: list[RaggedRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        if row.text is not None and not row.text.strip():
            return "skip"
        ragged.append(RaggedRow(row.actual_columns, row.text))
        return "error"

    ids = column_ids(n_columns)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=ids, block_size=block_bytes),
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
            raise LongRecord(block_bytes) from None
        raise InvalidInput(f"cannot parse the CSV file: {exc}") from None
