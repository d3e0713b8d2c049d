"""An index of the open repurchase instructions: (plan, due date) where not yet settled.

Every day reads a plan's open instructions three times (the repurchases due, the receipts
check, the day step's open items). Through the (plan_id, asset_id) unique index each read
visited every instruction the plan ever gave: ≈ 42,000 after 120 trading days at 200,000
loans (32 ms a read on SQLite, growing by the day) for ≈ 660 open ones. A partial index holds
only the open ones (2 ms). Measured: docs/PERFORMANCE.md "daily operations".

Revision ID: daily_0004
Revises: daily_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "daily_0004"
down_revision: str | Sequence[str] | None = "daily_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_daily_repurchases_open", "daily_repurchases", ["plan_id", "due_on"], unique=False,
                    sqlite_where=sa.text("settled_on IS NULL"), postgresql_where=sa.text("settled_on IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_daily_repurchases_open", "daily_repurchases")
