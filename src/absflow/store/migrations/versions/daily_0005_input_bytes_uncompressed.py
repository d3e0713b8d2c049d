"""PostgreSQL: a day's stored input files kept out of line without compression.

``daily_inputs.data`` holds Parquet already compressed with zstd. PostgreSQL's default storage
for ``bytea`` (EXTENDED) tries to compress every value over 2 KB with pglz first; on these bytes
it gains nothing (the table is as large either way) and cost ≈ 20 ms of a day's store at
200,000 loans (≈ 1.7 MB a day: 23 against 3 ms; docs/PERFORMANCE.md). EXTERNAL stores them out
of line as they are. Rows stored before keep their form; SQLite has no such setting.

Revision ID: daily_0005
Revises: daily_0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "daily_0005"
down_revision: str | Sequence[str] | None = "daily_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_inputs ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_inputs ALTER COLUMN data SET STORAGE EXTENDED")
