"""Daily distributions record the residual paid to a tranche by the deal's waterfall.

Revision ID: daily_0002
Revises: daily_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "daily_0002"
down_revision: str | Sequence[str] | None = "daily_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("daily_distributions") as batch:
        batch.add_column(sa.Column("residual_paid_fen", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("daily_distributions") as batch:
        batch.drop_column("residual_paid_fen")
