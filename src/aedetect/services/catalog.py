"""Datasets of the native API: CSV files or Excel workbooks uploaded once, described by their
inferred schema, and used by any number of models (for training, evaluation, thresholds or batch
scoring).

A file is read with :func:`aedetect.data.read_csv` (encodings, delimiters, decimal commas, Korean
names) before it is kept, so a file that is not a readable table is refused and nothing is
stored. A workbook's sheet, and a CSV file read with options that detection would not choose, are
kept as the CSV they read as (UTF-8, comma), so every later read (training, previews, scoring a
stored dataset) reads the same table without the options. A file is written under a temporary
name and renamed into place before the registry records it; a dataset that a model still needs
cannot be deleted.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import pandas as pd

from aedetect.data import CsvFormat, iter_csv_chunks, read_csv
from aedetect.data.filetype import NotText
from aedetect.data.summary import summarize
from aedetect.data.tables import TableFile, TableOptions, open_table
from aedetect.domain import Dataset
from aedetect.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, listed, quoted, storage_error
from aedetect.registry.base import Registry
from aedetect.services.paths import DataPaths, check_dataset_id, check_file_name
from aedetect.services.values import json_value
from aedetect.storage import ArtifactStore

EXAMPLES = 3
"""Distinct example values shown per column."""

PREVIEW_ROWS = 10
MAX_PAGE = 500

LIMIT_SETTINGS = {
    "max_bytes": "AEDETECT_MAX_UPLOAD_BYTES",
    "max_columns": "AEDETECT_MAX_CSV_COLUMNS",
    "max_line_bytes": "AEDETECT_MAX_CSV_LINE_BYTES",
}
"""The setting that raises each limit of the CSV reader (named in the 413 a file over it gets)."""


@dataclass(frozen=True)
class CsvLimits:
    """What an uploaded CSV file may be: bytes in all, columns, bytes per line."""

    max_bytes: int
    max_columns: int
    max_line_bytes: int


UPLOAD_CHUNK_ROWS = 50_000
"""Rows read at a time while an upload is checked and described."""


@dataclass(frozen=True)
class UploadSummary:
    """An uploaded file as read: its size in bytes, data rows and per column: name, kind as a
    model would encode it, missing share, distinct count (exact up to a bound, estimated beyond:
    :mod:`aedetect.data.summary`) and a few distinct examples; ``format``: how it was read (kind,
    sheet, encoding, delimiter, decimal mark); ``content``: the file to keep (the upload itself,
    or the CSV it reads as)."""

    size: int
    rows: int
    columns: list[dict[str, Any]]
    format: dict[str, Any] = field(default_factory=dict)
    content: BinaryIO | None = None

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]


@contextmanager
def named_limits(subject: str, field: str) -> Iterator[None]:
    """Re-raise a CSV reader's ``PayloadTooLarge`` as about ``subject``, naming the setting."""
    try:
        yield
    except PayloadTooLarge as exc:
        setting = LIMIT_SETTINGS.get(exc.field or "", "AEDETECT_MAX_UPLOAD_BYTES")
        raise PayloadTooLarge(f"{subject}: {exc.message} ({setting})", field=field) from exc


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe mappings."""
    return [{str(k): json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def read_upload(
    name: str, content: BinaryIO, limits: CsvLimits, options: TableOptions | None = None
) -> UploadSummary:
    """An uploaded file read and described chunk by chunk (memory bounded by a chunk, not by the
    file): the one reader of uploads of both APIs. CSV text, or an Excel workbook's sheet
    (``options.sheet``, else the first). ``PayloadTooLarge`` over a limit (naming it and its
    setting; columns and line length are checked on the first lines, before the columns are
    parsed), ``InvalidInput`` naming the file when it is not a readable table (saying what it
    looks like when it is a known binary format) or holds no data row."""
    content.seek(0, os.SEEK_END)
    size = content.tell()
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"file {quoted(name)} has {size} bytes, over the limit of {limits.max_bytes} bytes "
            "(AEDETECT_MAX_UPLOAD_BYTES)",
            field="file",
        )
    content.seek(0)
    options = options or TableOptions()
    try:
        with named_limits(f"file {quoted(name)}", "file"):
            table = open_table(content, options, limits.max_bytes, limits.max_columns)
    except InvalidInput as exc:
        raise InvalidInput(f"file {quoted(name)}: {exc.message}", field=exc.field or "file") from exc
    try:
        return _read_table(name, size, table, limits, options.overrides_csv)
    except BaseException:
        table.close()
        raise


def _read_table(name: str, size: int, table: TableFile, limits: CsvLimits, rewrite: bool) -> UploadSummary:
    """:func:`read_upload` of a file as CSV; ``rewrite``: keep the table as read (see the module)."""
    found: list[CsvFormat] = []
    chunks = iter_csv_chunks(
        table.file,
        chunk_rows=UPLOAD_CHUNK_ROWS,
        max_bytes=limits.max_bytes,
        max_columns=limits.max_columns,
        max_line_bytes=limits.max_line_bytes,
        on_format=found.append,
        **table.csv_options,
    )
    kept = table.file
    if rewrite:
        kept = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        chunks = _written(chunks, kept)
    try:
        rows, profile = _summary(name, table, chunks)
    except BaseException:
        if kept is not table.file:
            kept.close()
        raise
    kept.seek(0)
    fmt = table.describe(found[0] if found else None)
    return UploadSummary(size, rows, profile, fmt, cast(BinaryIO, kept))


def _summary(name: str, table: TableFile, chunks: Iterator[pd.DataFrame]) -> tuple[int, list[dict[str, Any]]]:
    """The data rows and column profiles of an upload, or ``InvalidInput`` naming the file."""
    what = "CSV file" if table.kind == "csv" else f"table (sheet {quoted(table.sheet)})"
    try:
        with named_limits(f"file {quoted(name)}", "file"):
            rows, columns = summarize(chunks, EXAMPLES)
    except NotText as exc:
        raise InvalidInput(f"file {quoted(name)}: {exc.message}", field="file") from exc
    except InvalidInput as exc:
        raise InvalidInput(
            f"file {quoted(name)} is not a readable {what}: {exc.message}", field="file"
        ) from exc
    if not columns or not rows:
        raise InvalidInput(f"file {quoted(name)} holds no data rows below its header", field="file")
    profile = [c.as_dict() for c in columns]
    for column in profile:
        column["examples"] = [json_value(v) for v in column["examples"]]
    return rows, profile


def _written(chunks: Iterator[pd.DataFrame], out: IO[bytes]) -> Iterator[pd.DataFrame]:
    """``chunks`` passed on, and written to ``out`` as CSV (UTF-8, comma, text quoted) on the way."""
    first = True
    for chunk in chunks:
        text = chunk.to_csv(index=False, header=first, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        out.write(text.encode("utf-8"))
        first = False
        yield chunk


class DatasetCatalog:
    """Upload, describe, read and delete datasets."""

    def __init__(self, registry: Registry, paths: DataPaths, store: ArtifactStore, limits: CsvLimits) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self.limits = limits
        self.max_bytes = limits.max_bytes

    def add(self, name: str | None, content: BinaryIO, options: TableOptions | None = None) -> Dataset:
        """Keep ``content`` as a new dataset named ``name`` (the client's file name), read with
        ``options`` (a workbook's sheet; a CSV file's encoding, delimiter, decimal mark)."""
        label = check_file_name((name or "").strip() or "upload.csv")
        upload = read_upload(label, content, self.limits, options)
        kept = upload.content or content
        dataset_id = f"ds_{uuid.uuid4().hex[:12]}"
        key = self._paths.dataset_file(dataset_id)
        written = False
        try:
            kept.seek(0)
            with self._store.writing_file(key) as temp, temp.open("wb") as out:
                shutil.copyfileobj(kept, out, length=1024 * 1024)
            written = True
            return self._registry.create_dataset(
                Dataset(
                    dataset_id=dataset_id,
                    name=label,
                    bytes=upload.size,
                    rows=upload.rows,
                    columns=upload.columns,
                    path=key,
                    created_at=datetime.now(UTC),
                    format=upload.format,
                )
            )
        except BaseException as exc:
            if written:
                self._store.remove([key])
            if (
                isinstance(exc, OSError)
                and (error := storage_error(exc, "storing the dataset", self._store.setting)) is not None
            ):
                raise error from exc
            raise
        finally:
            if kept is not content:
                kept.close()

    def get(self, dataset_id: str) -> Dataset:
        """The dataset, or ``NotFound``."""
        return self._registry.get_dataset(check_dataset_id(dataset_id))

    def page(self, cursor: str | None, limit: int) -> tuple[list[Dataset], str | None]:
        """A page of datasets, oldest first, and the cursor of the next page (``None`` at the end)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}, got {limit}", field="limit")
        after = None
        if cursor is not None:
            if not cursor.isdigit():
                raise InvalidInput(
                    f"invalid cursor {quoted(cursor)}: pass the 'next' value of a page", field="cursor"
                )
            after = int(cursor)
        items, following = self._registry.list_datasets(after=after, limit=limit)
        return items, None if following is None else str(following)

    def preview(self, dataset_id: str, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
        """The first ``rows`` rows, typed as training reads them."""
        try:
            first = next(iter(iter_csv_chunks(self._file(dataset_id), chunk_rows=rows)), None)
        except FileNotFoundError:  # a delete set the file aside after the record was read
            raise NotFound(f"dataset {dataset_id} is being deleted", field="dataset_id") from None
        return [] if first is None else records(first)

    def frame(self, dataset_id: str) -> pd.DataFrame:
        """The whole dataset as a typed table."""
        return read_csv(self._file(dataset_id))

    def chunks(self, dataset_id: str, rows: int) -> Iterator[pd.DataFrame]:
        """The dataset in chunks of ``rows`` rows (bounded memory)."""
        return iter_csv_chunks(self._file(dataset_id), chunk_rows=rows)

    def body_chunks(self, path: Path, rows: int) -> Iterator[pd.DataFrame]:
        """A CSV request body (spooled to ``path``) in chunks of ``rows`` rows, under the same
        column and line limits as an upload, so a strange header costs memory in proportion to
        the limits, not to the body; ``PayloadTooLarge`` names the limit and its setting."""
        limits = self.limits
        with named_limits("the CSV body", "body"):
            yield from iter_csv_chunks(
                path, chunk_rows=rows, max_columns=limits.max_columns, max_line_bytes=limits.max_line_bytes
            )

    def _file(self, dataset_id: str) -> Path:
        """A local copy of the dataset's file (the file itself in a directory store)."""
        return self._store.local_file(self._paths.dataset_file(self.get(dataset_id).dataset_id))

    def column_names(self, dataset_id: str) -> list[str]:
        return [c["name"] for c in self.get(dataset_id).columns]

    def delete(self, dataset_id: str) -> Dataset:
        """Remove the dataset and its file; ``Conflict`` naming the models that still need it."""
        users = self._registry.dataset_users(check_dataset_id(dataset_id))
        if users:
            raise Conflict(
                f"dataset {dataset_id} is still needed by model(s) {listed(users)} (they read it or "
                "were trained on it): delete those models first, or change them to another dataset",
                field="dataset",
            )
        # the file is set aside first, so a failure at any step leaves the dataset as it was
        moved = self._store.move_aside(
            [self._paths.dataset_file(dataset_id)], f"deleting dataset {dataset_id}"
        )
        try:
            gone = self._registry.delete_dataset(dataset_id)
        except BaseException:
            self._store.restore(moved)
            raise
        self._store.purge(moved)
        return gone
