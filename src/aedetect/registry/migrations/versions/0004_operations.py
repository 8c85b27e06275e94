"""Operating a model: the scoring log, its gaps, and operator feedback.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _network(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["nn_id"], ["networks.nn_id"], name=op.f(f"fk_{table}_nn_id_networks"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "score_log",
        sa.Column("id", LOG_ID, autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        _timestamp("scored_at"),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("is_anomaly", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("contributions", sa.JSON(), nullable=False),
        sa.Column("row_values", sa.JSON(), nullable=True),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        _network("score_log"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_score_log_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_log")),
    )
    op.create_index("ix_score_log_nn_id_id", "score_log", ["nn_id", "id"])
    op.create_index("ix_score_log_nn_id_scored_at", "score_log", ["nn_id", "scored_at"])
    op.create_index("ix_score_log_run_id_scored_at", "score_log", ["run_id", "scored_at"])
    op.create_table(
        "score_log_gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        _timestamp("first_at"),
        _timestamp("last_at"),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _network("score_log_gaps"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_log_gaps")),
    )
    op.create_index(op.f("ix_score_log_gaps_nn_id"), "score_log_gaps", ["nn_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nn_id", sa.String(50), nullable=False),
        sa.Column("log_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(80), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("is_anomaly", sa.Boolean(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        _timestamp("scored_at", nullable=True),
        sa.Column("row_values", sa.JSON(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _network("feedback"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("nn_id", "log_id", name=op.f("uq_feedback_nn_id_log_id")),
    )
    op.create_index(op.f("ix_feedback_nn_id"), "feedback", ["nn_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("score_log_gaps")
    op.drop_table("score_log")
