"""Job output files (e.g. a cash-flow workbook offered for download).

Revision ID: web_0002
Revises: web_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0002"
down_revision: str | Sequence[str] | None = "web_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("output_blob", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("output_name", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("output_name")
        batch.drop_column("output_blob")
