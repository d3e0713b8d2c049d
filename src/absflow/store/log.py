"""Rows of the verifiable log: entries (leaves) in append order, the log head, the stored
perfect subtree hashes (for O(log n) proofs), signed checkpoints, tape commitments, and the
itemised lists of pool changes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from absflow.store.base import Base


class LogHeadRow(Base):
    """One row per log: its size and compact range. Appenders lock it, so indexes have no gaps or twins.

    ``frontier`` is the concatenation of the 32-byte roots of the perfect subtrees making up
    the tree, largest first (NULL for the empty tree); it gives the root without a scan.
    """

    __tablename__ = "log_heads"
    log_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary)


class LogEntryRow(Base):
    """A leaf: its canonical bytes (``body``) and RFC 9162 leaf hash, at position ``idx``."""

    __tablename__ = "log_entries"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_type: Mapped[str] = mapped_column(String(64), nullable=False)  # no index: nothing looks entries up by type
    plan_code: Mapped[str | None] = mapped_column(String(32), index=True)
    business_date: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LogNodeRow(Base):
    """The hash of the perfect subtree covering leaves ``[idx << level, (idx + 1) << level)``, level >= 1."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LogCheckpointRow(Base):
    """A signed checkpoint (C2SP signed note), with the witness cosignatures added to it."""

    __tablename__ = "log_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class TapeCommitmentRow(Base):
    """A tape's selective-disclosure commitment: the secret its salts derive from (keep secret)."""

    __tablename__ = "tape_commitments"
    __table_args__ = (UniqueConstraint("plan_code", "tape_ref", name="uq_tape_commitments_plan_tape"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(32), nullable=False)
    tape_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    secret: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    record_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key_field: Mapped[str] = mapped_column(String(64), nullable=False)
    log_index: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PoolChangeItemRow(Base):
    """One item of a ``pool.changed`` entry's list: an asset added to or removed from a pool.

    ``position`` is the item's leaf index in the list root the entry at ``log_index`` carries.
    """

    __tablename__ = "pool_change_items"
    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    plan_code: Mapped[str] = mapped_column(String(32), nullable=False)
    asset_id: Mapped[str] = mapped_column(String(64), nullable=False)
    change: Mapped[str] = mapped_column(String(8), nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The item came with a daily run's list: its asset's ``pool_assets`` row of the plan was
    #: acquired (added), or its removal row dated (removed), on the entry's business date, which is how
    #: ``pool_change_bundle`` finds it. Only the other lists' items are in the asset index
    #: (migration tlog_0004: a day's thousands of index entries, on pages all over the index,
    #: were ≈ 17 % of the pages a day's commit wrote).
    via_pool_rows: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    __table_args__ = (Index("ix_pool_change_items_plan_asset", "plan_code", "asset_id",
                            sqlite_where=text("NOT via_pool_rows"), postgresql_where=text("NOT via_pool_rows")),)
