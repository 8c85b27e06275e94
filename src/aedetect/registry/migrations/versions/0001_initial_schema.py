"""Initial schema: networks, versions, workflow nodes, training runs and jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("biz_cate", sa.String(100), nullable=False),
        sa.Column("biz_sub_cate", sa.String(100), nullable=False),
        sa.Column("nn_title", sa.String(200), nullable=False),
        sa.Column("nn_desc", sa.Text(), nullable=False),
        sa.Column("use_flag", sa.String(1), nullable=False),
        sa.Column("dir", sa.String(200), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("nn_id", name=op.f("pk_networks")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("condition", sa.String(1), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("def_list_nn_id", sa.String(50), nullable=False),
        sa.Column("workflow_type", sa.String(50), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["nn_id"], ["networks.nn_id"], name=op.f("fk_versions_nn_id_networks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("nn_id", "version", name=op.f("uq_versions_nn_id_version")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["nn_id", "version"],
            ["versions.nn_id", "versions.version"],
            name=op.f("fk_nodes_nn_id_version_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("nn_id", "version", "name", name=op.f("uq_nodes_nn_id_version_name")),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("model_path", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["nn_id", "version"],
            ["versions.nn_id", "versions.version"],
            name=op.f("fk_runs_nn_id_version_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
        sa.UniqueConstraint("nn_id", "version", "seq", name=op.f("uq_runs_nn_id_version_seq")),
    )
    op.create_index(op.f("ix_runs_job_id"), "runs", ["job_id"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_jobs_job_id")),
    )
    op.create_index(op.f("ix_jobs_kind"), "jobs", ["kind"])
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("runs")
    op.drop_table("nodes")
    op.drop_table("versions")
    op.drop_table("networks")
