"""Datasets: uploaded CSV files with their inferred schema, and which models still need them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aedetect.domain import Dataset
from aedetect.errors import Conflict, NotFound
from aedetect.registry.orm import DatasetRow, NodeRow, RunRow
from aedetect.registry.store import SqlStore, _json_value, _text


def _dataset(row: DatasetRow) -> Dataset:
    return Dataset(
        dataset_id=row.dataset_id,
        name=row.name,
        bytes=row.bytes,
        rows=row.rows,
        columns=[dict(c) for c in row.columns],
        path=row.path,
        created_at=row.created_at,
        format=dict(row.format or {}),
    )


class DatasetStore(SqlStore):
    """Dataset records (the files themselves live in the data directory)."""

    def create_dataset(self, dataset: Dataset) -> Dataset:
        """Insert a dataset record; ``Conflict`` if its id exists."""
        columns = _json_value({"columns": dataset.columns}, "columns")["columns"]
        fmt = _json_value(dataset.format, "format") if dataset.format else None

        def work(session: Session) -> Dataset:
            row = DatasetRow(
                dataset_id=_text(dataset.dataset_id, "id"),
                name=_text(dataset.name, "name"),
                bytes=int(dataset.bytes),
                rows=int(dataset.rows),
                columns=columns,
                path=_text(dataset.path, "path"),
                created_at=dataset.created_at,
                format=fmt,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict(f"dataset '{dataset.dataset_id}' already exists", field="id") from exc
            return _dataset(row)

        return self._write(work)

    @staticmethod
    def _dataset_row(session: Session, dataset_id: str) -> DatasetRow:
        row = session.scalars(select(DatasetRow).where(DatasetRow.dataset_id == dataset_id)).one_or_none()
        if row is None:
            raise NotFound(f"dataset '{dataset_id}' not found", field="dataset")
        return row

    def get_dataset(self, dataset_id: str) -> Dataset:
        return self._read(lambda session: _dataset(self._dataset_row(session, dataset_id)))

    def list_datasets(
        self, *, after: int | None = None, limit: int = 100
    ) -> tuple[list[Dataset], int | None]:
        """Datasets, oldest first, from the position ``after`` (a cursor from a previous page);
        returns the page and the cursor of the next one (``None`` at the end)."""

        def work(session: Session) -> tuple[list[Dataset], int | None]:
            stmt = select(DatasetRow).order_by(DatasetRow.id).limit(limit + 1)
            if after is not None:
                stmt = stmt.where(DatasetRow.id > after)
            rows = list(session.scalars(stmt))
            more = len(rows) > limit
            rows = rows[:limit]
            return [_dataset(r) for r in rows], (rows[-1].id if more and rows else None)

        return self._read(work)

    def dataset_users(self, dataset_id: str) -> list[str]:
        """The networks that still need the dataset: a data node reads it, or one of their model
        versions was trained on it (its baseline is refitted from it). Sorted, without repeats."""

        def work(session: Session) -> list[str]:
            self._dataset_row(session, dataset_id)
            users = set()
            for nn_id, config in session.execute(
                select(NodeRow.nn_id, NodeRow.config).where(NodeRow.kind == "data")
            ):
                if isinstance(config, dict) and config.get("dataset") == dataset_id:
                    users.add(nn_id)
            for nn_id, params in session.execute(select(RunRow.nn_id, RunRow.params)):
                if isinstance(params, dict) and params.get("dataset") == dataset_id:
                    users.add(nn_id)
            return sorted(users)

        return self._read(work)

    def delete_dataset(self, dataset_id: str) -> Dataset:
        """Remove the dataset record; returns what it was."""

        def work(session: Session) -> Dataset:
            row = self._dataset_row(session, dataset_id)
            gone = _dataset(row)
            session.delete(row)
            session.flush()
            return gone

        return self._write(work)
