"""Plan registry and verifiable-log entries.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_code_counters",
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_plan_code_counters"),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("code", name="uq_plans_code"),
    )
    op.create_table(
        "plan_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_parties"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_plan_parties_plan_id_plans", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("plan_id", "role", "name", name="uq_plan_parties_role_name"),
    )
    op.create_table(
        "plan_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_status_changes"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_plan_status_changes_plan_id_plans", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "log_heads",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("log_id", name="pk_log_heads"),
    )
    log_heads = sa.table("log_heads", sa.column("log_id", sa.Integer()), sa.column("size", sa.BigInteger()))
    op.bulk_insert(log_heads, [{"log_id": 1, "size": 0}])
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_type", sa.String(64), nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=True),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_log_entries"),
    )
    op.create_index("ix_log_entries_entry_type", "log_entries", ["entry_type"])
    op.create_index("ix_log_entries_plan_code", "log_entries", ["plan_code"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_plan_code", "log_entries")
    op.drop_index("ix_log_entries_entry_type", "log_entries")
    op.drop_table("log_entries")
    op.drop_table("log_heads")
    op.drop_table("plan_status_changes")
    op.drop_table("plan_parties")
    op.drop_table("plans")
    op.drop_table("plan_code_counters")
