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
from pathlib import Path
from typing import IO, Final

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
_BLOCK_BYTES: Final = 8 * 1024 * 1024


class RaggedRow(Exception):
    """Arrow met a row with the wrong number of fields (located again by :func:`_locate_ragged`)."""

    def __init__(self, actual: int, text: str | None) -> None:
        super().__init__(text)
        self.actual = actual
        self.text = text


class Undecodable(Exception):
    """Bytes that the chosen encoding cannot decode, at raw offset ``offset``; ``after_ascii``
    when all the sampled bytes were ASCII (so the guess of the encoding had nothing to go on)."""

    def __init__(self, encoding: str, offset: int, after_ascii: bool) -> None:
        super().__init__(f"{encoding} at byte {offset}")
        self.encoding = encoding
        self.offset = offset
        self.after_ascii = after_ascii


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")


class CsvInput:
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


def read_sample(stream: IO[bytes], max_bytes: int | None) -> tuple[bytes, bool]:
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
            raise too_large(max_bytes)
        if size >= target:
            if b"".join(parts).count(b"\n") >= 3 or target >= _MAX_SAMPLE_BYTES:
                return b"".join(parts), False
            target *= 2


class Utf8Stream(io.RawIOBase):
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
        ascii_run = block.isascii() and not self._decoder.getstate()[0]
        if not (ascii_run and self._passthrough):
            try:
                text = self._decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                offset = max(start + exc.start, 0)
                raise Undecodable(self._fmt.encoding, offset, self._ascii_sample) from None
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


def column_ids(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def string_batches(stream: Utf8Stream, fmt: CsvFormat, n_columns: int) -> Iterator[pa.RecordBatch]:
    """Every record of the stream (the header too) as batches of ``n_columns`` string columns."""
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
