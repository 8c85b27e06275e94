"""ORM mapping of the registry tables (SQLAlchemy 2 typed declarative). These classes stay inside
the registry package; ``registry.sql`` converts them to the domain dataclasses. The schema itself is
created and changed only by the Alembic migrations next to this module. Deleting a network removes
its versions, nodes and runs through ``ON DELETE CASCADE`` foreign keys, in the database itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can refer to them on every backend."""


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind the registry stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and tagged UTC on the way
    out; naive input is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as is
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class NetworkRow(Base):
    """A network and its descriptive fields (old table NN_DEF_LIST_INFO)."""

    __tablename__ = "networks"

    nn_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    biz_cate: Mapped[str] = mapped_column(String(100), default="")
    biz_sub_cate: Mapped[str] = mapped_column(String(100), default="")
    nn_title: Mapped[str] = mapped_column(String(200), default="")
    nn_desc: Mapped[str] = mapped_column(Text, default="")
    use_flag: Mapped[str] = mapped_column(String(1), default="Y")
    dir: Mapped[str] = mapped_column(String(200), default="")
    config: Mapped[str] = mapped_column(Text, default="")
    auto_promote: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VersionRow(Base):
    """A numbered workflow version of a network (old table NN_VER_WFLIST_INFO)."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("nn_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    info: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    condition: Mapped[str] = mapped_column(String(1), default="1")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    def_list_nn_id: Mapped[str] = mapped_column(String(50), default="")
    workflow_type: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodeRow(Base):
    """One workflow node of a version and its JSON settings (old table NN_WF_NODE_INFO)."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("nn_id", "version", "name"),
        ForeignKeyConstraint(
            ["nn_id", "version"], ["versions.nn_id", "versions.version"], ondelete="CASCADE"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RunRow(Base):
    """One training run of a version and the model it produced (old table NN_VER_BATCHLIST_INFO)."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("nn_id", "version", "seq"),
        Index("uq_runs_nn_id_model_version", "nn_id", "model_version", unique=True),
        ForeignKeyConstraint(
            ["nn_id", "version"], ["versions.nn_id", "versions.version"], ondelete="CASCADE"
        ),
    )

    run_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    nn_id: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    model_path: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobRow(Base):
    """A background job: kind, JSON parameters, status, progress and result.

    ``id`` only orders jobs by insertion (``list_jobs`` is newest first); ``job_id`` is the public id.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    model: Mapped[str | None] = mapped_column(String(50), index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]


class DatasetRow(Base):
    """An uploaded CSV dataset and its inferred schema; ``dataset_id`` is the public id."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON())
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    format: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)


class ThresholdRow(Base):
    """One threshold revision of a run; the newest (highest ``id``) is the current one."""

    __tablename__ = "thresholds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"), index=True)
    value: Mapped[float] = mapped_column(Double)
    strategy: Mapped[str] = mapped_column(String(32))
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasRow(Base):
    """A named pointer to a run of a network, other than ``production`` (which is the active
    version's active run, as the v1 API has always had it)."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("nn_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(50))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasMoveRow(Base):
    """The record of one alias move (``production`` included)."""

    __tablename__ = "alias_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(50))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    moved_at: Mapped[datetime] = mapped_column(default=utcnow)


LogId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids for the scoring log (SQLite's INTEGER PRIMARY KEY is 64-bit and the only kind it
numbers by itself)."""


class ScoreLogRow(Base):
    """One scored row of the scoring log (rows are appended in batches, and pruned by age and
    count per model). Indexes: a model's newest rows (listing, retention by count), a model's
    rows by time (retention by age), a version's rows by time (drift). The retention by bytes sums
    ``row_bytes`` along the first."""

    __tablename__ = "score_log"
    __table_args__ = (
        Index("ix_score_log_nn_id_id", "nn_id", "id"),
        Index("ix_score_log_nn_id_scored_at", "nn_id", "scored_at"),
        Index("ix_score_log_run_id_scored_at", "run_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    model_version: Mapped[int | None] = mapped_column(Integer)
    scored_at: Mapped[datetime]
    score: Mapped[float | None] = mapped_column(Double)
    is_anomaly: Mapped[bool] = mapped_column(Boolean)
    threshold: Mapped[float] = mapped_column(Double)
    contributions: Mapped[Any] = mapped_column(JSON())
    row_values: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(8))
    truncated: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    row_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The row's size as the retention counts it (its JSON values and top columns, and a fixed
    part for the rest): written with the row, so pruning by bytes is one query."""


class LogGapRow(Base):
    """Rows scored but not logged (queue full, store refusing writes)."""

    __tablename__ = "score_log_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"), index=True)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    rows: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class FeedbackRow(Base):
    """An operator's label of a scored row, with a copy of what the row was scored with. ``log_id``
    is not a foreign key: the label outlives the log's retention."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("nn_id", "log_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nn_id: Mapped[str] = mapped_column(ForeignKey("networks.nn_id", ondelete="CASCADE"), index=True)
    log_id: Mapped[int | None] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(80))
    model_version: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Double)
    is_anomaly: Mapped[bool | None] = mapped_column(Boolean)
    threshold: Mapped[float | None] = mapped_column(Double)
    scored_at: Mapped[datetime | None]
    row_values: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
