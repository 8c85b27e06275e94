"""Data nodes (``datasrc``, ``evaldata``): their source settings and the CSV files uploaded to them.

Every upload is read with :func:`aedetect.data.read_csv` before it is kept, so a file that is not
a CSV, is malformed or too large is refused with a clear message and nothing is stored. The columns
and row count of each kept file are recorded in the node's settings under ``files``; all files of
a node must have the same columns, since training reads them as one table.

A node of a model made through the native API reads a catalogue dataset instead: its settings
hold ``dataset`` (the dataset id), and its files are that dataset's one file. Uploading files to
such a node over v1 replaces the link with the uploaded files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import pandas as pd

from aedetect.data import read_csv
from aedetect.errors import InvalidInput, listed, quoted, storage_error
from aedetect.services.catalog import CsvLimits, DatasetCatalog, read_upload
from aedetect.services.limits import check_text_sizes
from aedetect.services.paths import DataPaths, check_file_name
from aedetect.services.workflow import DATA_NODE, WorkflowService
from aedetect.storage import ArtifactStore, SetAside

FILES_KEY = "files"
"""Key of the node settings that lists the node's files (name, bytes, rows, columns)."""

DATASET_KEY = "dataset"
"""Key of the node settings that names the catalogue dataset the node reads."""

SOURCE_TYPES = ("csv",)
SOURCE_KINDS = ("local",)
NO_PREPROCESS = (None, "", "none")
"""Values of ``preprocess`` meaning "read the CSV as it is" (no custom preprocessing exists)."""


@dataclass
class Upload:
    """One uploaded file: the form field it came in, the client's file name and its content."""

    field: str
    filename: str | None
    content: BinaryIO


@dataclass(frozen=True)
class UploadResult:
    """What an upload kept, and the names of the earlier files it replaced."""

    stored: list[StoredFile]
    replaced: list[str]


@dataclass(frozen=True)
class StoredFile:
    """What is known about a kept file without reading it again."""

    name: str
    bytes: int
    rows: int
    columns: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "rows": self.rows, "columns": self.columns}


def _column_difference(expected: Sequence[str], actual: Sequence[str]) -> str:
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing {listed(missing)}")
    if extra:
        parts.append(f"extra {listed(extra)}")
    return "; ".join(parts)


class DatasetService:
    """Uploads, source settings and reading of a version's data nodes."""

    def __init__(
        self,
        workflow: WorkflowService,
        paths: DataPaths,
        store: ArtifactStore,
        catalog: DatasetCatalog,
        limits: CsvLimits,
    ) -> None:
        self._workflow = workflow
        self._paths = paths
        self._store = store
        self._catalog = catalog
        self._limits = limits

    # --- files --------------------------------------------------------------------------------
    def upload(self, nn_id: str, version: int, node: str, uploads: Sequence[Upload]) -> UploadResult:
        """Validate every file, then keep them all (or none): a file named like an existing one
        replaces it. Returns what was stored and which earlier files it replaced."""
        self._workflow.node(nn_id, version, node, DATA_NODE)
        if not uploads:
            raise InvalidInput(
                "the request holds no file: send each CSV file as one multipart form field", field="file"
            )
        checked: dict[str, tuple[Upload, StoredFile]] = {}
        for upload in uploads:
            name = check_file_name((upload.filename or "").strip() or upload.field)
            if name in checked:
                raise InvalidInput(f"file {quoted(name)} is sent twice in one upload", field="file")
            checked[name] = self._inspect(name, upload)
        directory = self._paths.node_dir(nn_id, version, node)

        replaced: list[str] = []

        def change(config: dict[str, Any]) -> dict[str, Any]:
            kept = {f["name"]: f for f in config.get(FILES_KEY, []) if f["name"] not in checked}
            replaced.extend(f["name"] for f in config.get(FILES_KEY, []) if f["name"] in checked)
            new = [info for _, info in checked.values()]
            self._check_same_columns([*kept.values()], new)
            self._store_all(
                [(f"{directory}/{info.name}", upload.content) for upload, info in checked.values()]
            )
            rest = {k: v for k, v in config.items() if k != DATASET_KEY}
            return {**rest, FILES_KEY: [*kept.values(), *(info.as_dict() for info in new)]}

        self._workflow.update_config(nn_id, version, node, DATA_NODE, change)
        return UploadResult([info for _, info in checked.values()], replaced)

    def _inspect(self, name: str, sent: Upload) -> tuple[Upload, StoredFile]:
        """Read the file as CSV or an Excel workbook's first sheet (refusing it if it is neither)
        and describe it; a workbook is kept as the CSV it reads as."""
        upload = read_upload(name, sent.content, self._limits)
        kept = replace(sent, content=upload.content or sent.content)
        return kept, StoredFile(name=name, bytes=upload.size, rows=upload.rows, columns=upload.names)

    @staticmethod
    def _check_same_columns(kept: Sequence[dict[str, Any]], new: Sequence[StoredFile]) -> None:
        files = [(f["name"], list(f["columns"])) for f in kept] + [(f.name, f.columns) for f in new]
        if not files:
            return
        first_name, first_columns = files[0]
        for name, columns in files[1:]:
            if set(columns) != set(first_columns):
                raise InvalidInput(
                    f"file {quoted(name)} does not have the columns of {quoted(first_name)} "
                    f"({_column_difference(first_columns, columns)}); all files of a node are read "
                    "as one table: delete the node's files first to change the columns",
                    field="file",
                )

    def _store_all(self, files: Sequence[tuple[str, BinaryIO]]) -> None:
        """Store every file or none (the store writes them all under temporary names first): a
        full or unwritable disk (507/503) leaves the node's earlier files as they were."""
        try:
            self._store.put_files(files)
        except OSError as exc:
            error = storage_error(exc, "storing the upload", self._store.setting)
            if error is None:
                raise
            raise error from exc

    def dataset_of(self, nn_id: str, version: int, node: str) -> str | None:
        """The catalogue dataset the node reads, if it reads one."""
        dataset = self._workflow.config(nn_id, version, node, DATA_NODE).get(DATASET_KEY)
        return dataset if isinstance(dataset, str) else None

    def link_dataset(self, nn_id: str, version: int, node: str, dataset_id: str | None) -> None:
        """Make the node read catalogue dataset ``dataset_id`` (``None``: no data)."""

        def change(config: dict[str, Any]) -> dict[str, Any]:
            rest = {k: v for k, v in config.items() if k not in (DATASET_KEY, FILES_KEY)}
            return rest if dataset_id is None else {**rest, DATASET_KEY: dataset_id}

        self._workflow.update_config(nn_id, version, node, DATA_NODE, change)

    def files(self, nn_id: str, version: int, node: str) -> list[StoredFile]:
        """The node's kept files in upload order (a linked dataset's one file)."""
        config = self._workflow.config(nn_id, version, node, DATA_NODE)
        if isinstance(config.get(DATASET_KEY), str):
            dataset = self._catalog.get(config[DATASET_KEY])
            return [
                StoredFile(
                    name=dataset.name,
                    bytes=dataset.bytes,
                    rows=dataset.rows,
                    columns=[c["name"] for c in dataset.columns],
                )
            ]
        return [
            StoredFile(name=f["name"], bytes=f["bytes"], rows=f["rows"], columns=list(f["columns"]))
            for f in config.get(FILES_KEY, [])
        ]

    def columns(self, nn_id: str, version: int, node: str) -> list[str] | None:
        """The columns of the node's data, or ``None`` when it holds no file."""
        files = self.files(nn_id, version, node)
        return files[0].columns if files else None

    def delete_files(self, nn_id: str, version: int, node: str) -> int:
        """Remove all of the node's files; returns how many there were. The directory is set
        aside first, so a failure at any step leaves the files and their record as they were."""
        directory = self._paths.node_dir(nn_id, version, node)
        removed: list[str] = []
        aside = SetAside()

        def change(config: dict[str, Any]) -> dict[str, Any]:
            removed.extend(f["name"] for f in config.get(FILES_KEY, []))
            moved = self._store.move_aside([directory], f"deleting the files of node {node}")
            aside.entries.extend(moved.entries)
            return {k: v for k, v in config.items() if k not in (FILES_KEY, DATASET_KEY)}

        try:
            self._workflow.update_config(nn_id, version, node, DATA_NODE, change)
        except BaseException:
            self._store.restore(aside)
            raise
        self._store.purge(aside)
        return len(removed)

    def load_frame(self, nn_id: str, version: int, node: str) -> pd.DataFrame:
        """All of the node's files read as one table (rows in upload order)."""
        dataset = self.dataset_of(nn_id, version, node)
        if dataset is not None:
            return self._catalog.frame(dataset)
        files = self.files(nn_id, version, node)
        if not files:
            raise InvalidInput(f"node {quoted(node)} holds no data file", field=node)
        frames = [
            read_csv(self._store.local_file(self._paths.node_file(nn_id, version, node, f.name)))
            for f in files
        ]
        if len(frames) == 1:
            return frames[0]
        order = list(frames[0].columns)
        return pd.concat([f[order] for f in frames], ignore_index=True)

    # --- settings -----------------------------------------------------------------------------
    def set_source(
        self, nn_id: str, version: int, node: str, source_kind: str, form: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Describe where the node's data comes from (merged into its settings); returns them."""
        check_text_sizes(body, self._workflow.limits)
        if source_kind not in SOURCE_KINDS:
            raise InvalidInput(
                f"source {quoted(source_kind)} is not supported; supported: {', '.join(SOURCE_KINDS)} "
                "(upload the files over this API)",
                field="src",
            )
        source_type = body.get("type")
        if source_type not in SOURCE_TYPES:
            raise InvalidInput(
                f"type must be one of {', '.join(SOURCE_TYPES)}, got {quoted(source_type)}", field="type"
            )
        values: dict[str, Any] = {
            "type": source_type,
            "source_type": source_kind,
            "source_parse_type": form,
            "source_server": body.get("source_server"),
            "source_sql": body.get("source_sql"),
            "source_path": self._paths.node_dir(nn_id, version, node),
        }
        if "preprocess" in body:
            values["preprocess"] = self._check_preprocess(body["preprocess"])
        return self._settings(
            self._workflow.update_config(nn_id, version, node, DATA_NODE, lambda c: {**c, **values})
        )

    def set_preprocess(self, nn_id: str, version: int, node: str, value: Any) -> Any:
        """Record the node's preprocessing; only "none" exists (the CSV is read as it is)."""
        checked = self._check_preprocess(value)
        self._workflow.update_config(nn_id, version, node, DATA_NODE, lambda c: {**c, "preprocess": checked})
        return checked

    def set_store(self, nn_id: str, version: int, node: str) -> str:
        """Record and return where the node's data is kept (relative to the data directory)."""
        store = self._paths.node_dir(nn_id, version, node)
        self._workflow.update_config(nn_id, version, node, DATA_NODE, lambda c: {**c, "store_path": store})
        return store

    def describe(self, nn_id: str, version: int, node: str) -> dict[str, Any]:
        """The node's settings and its files."""
        config = self._workflow.config(nn_id, version, node, DATA_NODE)
        return {**self._settings(config), FILES_KEY: list(config.get(FILES_KEY, []))}

    @staticmethod
    def _settings(config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k != FILES_KEY}

    @staticmethod
    def _check_preprocess(value: Any) -> Any:
        if value not in NO_PREPROCESS:
            raise InvalidInput(
                f'preprocess {quoted(value)} is not supported: send "none" (the CSV is used as it is)',
                field="preprocess",
            )
        return value
