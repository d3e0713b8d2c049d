"""Deal documents attached to plans, versioned.

Revision ID: deal_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "deal_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("deal",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deal_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deal_versions"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_deal_versions_plan_id_plans", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("plan_id", "version", name="uq_deal_versions_plan_version"),
    )


def downgrade() -> None:
    op.drop_table("deal_versions")
