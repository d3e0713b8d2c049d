"""Verifiable log: cheaper appends. Keep stored subtree hashes from level 4 up (smaller ones are
folded from leaves), and drop the index on entry types (no query uses it; each append paid for it).

Revision ID: tlog_0003
Revises: tlog_0002
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tlog_0003"
down_revision: str | Sequence[str] | None = "tlog_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORED_MIN_LEVEL = 4  # absflow.tlog.merkle.STORED_MIN_LEVEL when this revision was written


def upgrade() -> None:
    op.execute(f"DELETE FROM log_nodes WHERE level < {STORED_MIN_LEVEL}")
    op.drop_index("ix_log_entries_entry_type", table_name="log_entries")


def downgrade() -> None:
    """Put back the subtree hashes of levels 1 to 3 the older code reads (RFC 9162 node hashes
    folded from the stored leaf hashes; only complete subtrees, as that code stored them)."""
    op.create_index("ix_log_entries_entry_type", "log_entries", ["entry_type"])
    bind = op.get_bind()
    current = [bytes(h) for h in bind.execute(sa.text("SELECT leaf_hash FROM log_entries ORDER BY idx")).scalars()]
    insert = sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)")
    for level in range(1, STORED_MIN_LEVEL):
        current = [hashlib.sha256(b"\x01" + current[2 * i] + current[2 * i + 1]).digest()
                   for i in range(len(current) // 2)]
        rows = [{"level": level, "idx": i, "hash": h} for i, h in enumerate(current)]
        for start in range(0, len(rows), 10_000):
            bind.execute(insert, rows[start:start + 10_000])
