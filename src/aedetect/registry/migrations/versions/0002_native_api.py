"""Native API: datasets, numbered model versions, aliases and their moves, threshold revisions,
cancellable jobs tied to a model.

Succeeded runs of existing networks get model version numbers in the order they were trained.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _number_model_versions() -> None:
    """Give the succeeded runs of each network the numbers 1, 2, ... in training order."""
    runs = sa.table(
        "runs",
        sa.column("run_id", sa.String),
        sa.column("nn_id", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("version", sa.Integer),
        sa.column("seq", sa.Integer),
        sa.column("model_version", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(runs.c.run_id, runs.c.nn_id)
        .where(runs.c.status == "succeeded")
        .order_by(runs.c.nn_id, runs.c.created_at, runs.c.version, runs.c.seq)
    ).all()
    counters: dict[str, int] = {}
    for run_id, nn_id in rows:
        counters[nn_id] = counters.get(nn_id, 0) + 1
        bind.execute(sa.update(runs).where(runs.c.run_id == run_id).values(model_version=counters[nn_id]))


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX only: on SQLite a batch "move and copy" of a parent table
    # would drop it, and its ON DELETE CASCADE children (versions, nodes, runs) with it.
    op.add_column(
        "networks", sa.Column("auto_promote", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column("runs", sa.Column("model_version", sa.Integer(), nullable=True))
    op.create_index(op.f("uq_runs_nn_id_model_version"), "runs", ["nn_id", "model_version"], unique=True)
    op.add_column("jobs", sa.Column("model", sa.String(50), nullable=True))
    op.add_column(
        "jobs", sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(op.f("ix_jobs_model"), "jobs", ["model"])
    _number_model_versions()

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_datasets_dataset_id")),
    )
    op.create_table(
        "thresholds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_thresholds_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thresholds")),
    )
    op.create_index(op.f("ix_thresholds_run_id"), "thresholds", ["run_id"])
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["nn_id"], ["networks.nn_id"], name=op.f("fk_aliases_nn_id_networks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_aliases_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliases")),
        sa.UniqueConstraint("nn_id", "alias", name=op.f("uq_aliases_nn_id_alias")),
    )
    op.create_table(
        "alias_moves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("moved_at"),
        sa.ForeignKeyConstraint(
            ["nn_id"], ["networks.nn_id"], name=op.f("fk_alias_moves_nn_id_networks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_moves")),
    )
    op.create_index(op.f("ix_alias_moves_nn_id"), "alias_moves", ["nn_id"])


def downgrade() -> None:
    op.drop_table("alias_moves")
    op.drop_table("aliases")
    op.drop_table("thresholds")
    op.drop_table("datasets")
    op.drop_index(op.f("ix_jobs_model"), "jobs")
    op.drop_column("jobs", "cancel_requested")
    op.drop_column("jobs", "model")
    op.drop_index(op.f("uq_runs_nn_id_model_version"), "runs")
    op.drop_column("runs", "model_version")
    op.drop_column("networks", "auto_promote")
