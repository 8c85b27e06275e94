"""Datasets of the native API: CSV files uploaded once, described by their inferred schema, and
used by any number of models (for training, evaluation, thresholds or batch scoring).

A file is read with :func:`aedetect.data.read_csv` (encodings, delimiters, Korean names) before
it is kept, so a file that is not a readable CSV is refused and nothing is stored. It is written
under a temporary name and renamed into place before the registry records it; a dataset that a
model still needs cannot be deleted.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from aedetect.data import iter_csv_chunks, read_csv
from aedetect.data.schema import infer_column_specs
from aedetect.domain import Dataset
from aedetect.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, listed, quoted, storage_error
from aedetect.registry.base import Registry
from aedetect.services.paths import DataPaths, check_dataset_id, check_file_name
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


def json_scalar(value: Any) -> Any:
    """A cell as a JSON value: numbers as int/float, missing and non-finite as ``None``."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return str(value)


def column_profile(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per column: its kind as a model would encode it, missing share, distinct count, examples."""
    kinds = {s.name: s.kind.value for s in infer_column_specs(frame, None, None)}
    profile = []
    for name in frame.columns:
        values = frame[name]
        present = values.dropna()
        profile.append(
            {
                "name": str(name),
                "kind": kinds[str(name)],
                "missing_share": float(values.isna().mean()) if len(values) else 0.0,
                "distinct": int(present.nunique()),
                "examples": [json_scalar(v) for v in present.drop_duplicates().head(EXAMPLES)],
            }
        )
    return profile


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe mappings."""
    return [{str(k): json_scalar(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def read_upload(name: str, content: BinaryIO, limits: CsvLimits) -> tuple[pd.DataFrame, int]:
    """An uploaded file read as a typed table, and its size: the one reader of uploads of both APIs.
    ``PayloadTooLarge`` over a limit (naming it and its setting; columns and line length are checked
    on the first lines, before the columns are parsed), ``InvalidInput`` naming the file when it is
    not a readable CSV or holds no data row."""
    content.seek(0, os.SEEK_END)
    size = content.tell()
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"file {quoted(name)} has {size} bytes, over the limit of {limits.max_bytes} bytes "
            "(AEDETECT_MAX_UPLOAD_BYTES)",
            field="file",
        )
    content.seek(0)
    try:
        frame = read_csv(
            content,
            max_bytes=limits.max_bytes,
            max_columns=limits.max_columns,
            max_line_bytes=limits.max_line_bytes,
        )
    except PayloadTooLarge as exc:
        setting = LIMIT_SETTINGS.get(exc.field or "", "AEDETECT_MAX_UPLOAD_BYTES")
        raise PayloadTooLarge(f"file {quoted(name)}: {exc.message} ({setting})", field="file") from exc
    except InvalidInput as exc:
        raise InvalidInput(
            f"file {quoted(name)} is not a readable CSV file: {exc.message}", field="file"
        ) from exc
    if frame.columns.empty or frame.empty:
        raise InvalidInput(f"file {quoted(name)} holds no data rows below its header", field="file")
    return frame, size


class DatasetCatalog:
    """Upload, describe, read and delete datasets."""

    def __init__(self, registry: Registry, paths: DataPaths, store: ArtifactStore, limits: CsvLimits) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self.limits = limits
        self.max_bytes = limits.max_bytes

    def add(self, name: str | None, content: BinaryIO) -> Dataset:
        """Keep ``content`` as a new dataset named ``name`` (the client's file name)."""
        label = check_file_name((name or "").strip() or "upload.csv")
        frame, size = read_upload(label, content, self.limits)
        columns = column_profile(frame)
        dataset_id = f"ds_{uuid.uuid4().hex[:12]}"
        key = self._paths.dataset_file(dataset_id)
        written = False
        try:
            content.seek(0)
            with self._store.writing_file(key) as temp, temp.open("wb") as out:
                shutil.copyfileobj(content, out, length=1024 * 1024)
            written = True
            return self._registry.create_dataset(
                Dataset(
                    dataset_id=dataset_id,
                    name=label,
                    bytes=size,
                    rows=len(frame),
                    columns=columns,
                    path=key,
                    created_at=datetime.now(UTC),
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
