"""Scoring log bounded in bytes: each row's size as the retention counts it (``row_bytes``) and the
columns whose value was cut to the log's per-value limit (``truncated``). Rows logged before this
count 0 bytes until the age and row bounds remove them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("score_log", sa.Column("truncated", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("score_log", sa.Column("row_bytes", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("score_log") as batch:
        batch.drop_column("row_bytes")
        batch.drop_column("truncated")
