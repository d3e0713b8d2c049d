"""Link an investor user to its bookbuilding investor entity.

No foreign key: the web and bookbuilding branches migrate independently; the service checks the
investor exists when it links, and investors are never deleted.

Revision ID: web_0003
Revises: web_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0003"
down_revision: str | Sequence[str] | None = "web_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("investor_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("investor_id")
