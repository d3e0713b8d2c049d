"""Verifiable log: compact range on the head, stored subtree hashes, checkpoints, tape commitments.

Revision ID: tlog_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tlog_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("tlog",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("log_heads", sa.Column("frontier", sa.LargeBinary(), nullable=True))
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_log_nodes"),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_checkpoints"),
    )
    op.create_index("ix_log_checkpoints_size", "log_checkpoints", ["size"])
    op.create_table(
        "tape_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("tape_ref", sa.String(64), nullable=False),
        sa.Column("secret", sa.LargeBinary(32), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("key_field", sa.String(64), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tape_commitments"),
        sa.UniqueConstraint("plan_code", "tape_ref", name="uq_tape_commitments_plan_tape"),
    )


def downgrade() -> None:
    op.drop_table("tape_commitments")
    op.drop_index("ix_log_checkpoints_size", "log_checkpoints")
    op.drop_table("log_checkpoints")
    op.drop_table("log_nodes")
    with op.batch_alter_table("log_heads") as batch:
        batch.drop_column("frontier")
