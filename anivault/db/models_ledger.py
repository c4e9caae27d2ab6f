"""Ledger tables: operations, operation_items (owned by the organize stage).

The ledger is organize's write-ahead intent log: every item of a run is written `pending` in one durable
transaction before the first file is touched, so after any crash the ledger is a superset of what happened on
disk and recovery can resolve each item against the disk (see anivault.organize.recovery).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from anivault.db.base import Base, utcnow


class Operation(Base):
    """One organize or rollback run."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # organize|rollback
    # planned|running|done|partial|failed|interrupted|rolled_back
    status: Mapped[str] = mapped_column(String(16), default="planned")
    dest: Mapped[str | None] = mapped_column(Text)  # the library root (organize); None for rollback
    args: Mapped[str] = mapped_column(Text, default="{}")  # JSON: action, conflict, template, verify
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("operations.id", ondelete="SET NULL"))
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)


class OperationItem(Base):
    """One file (or folder) step of a run, with the source fingerprint taken when it was planned."""

    __tablename__ = "operation_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    op_id: Mapped[int] = mapped_column(ForeignKey("operations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"))
    # move|copy|hardlink|symlink|mkdir (organize); move|restore|unlink|rmdir (rollback)
    action: Mapped[str] = mapped_column(String(16))
    # Paths as readable text plus the exact bytes when the name is not valid UTF-8 (anivault.pathcodec).
    src: Mapped[str | None] = mapped_column(Text)
    src_raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    dst: Mapped[str] = mapped_column(Text)
    dst_raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    tmp: Mapped[str | None] = mapped_column(Text)  # temp name beside dst for cross-device copies
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    dev: Mapped[int | None] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64))
    dst_dev: Mapped[int | None] = mapped_column(BigInteger)
    dst_inode: Mapped[int | None] = mapped_column(BigInteger)
    # pending|done|failed|skipped|conflict|aborted; an organize item its rollback reversed: undone
    state: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str | None] = mapped_column(Text)  # why skipped/failed/conflict, or "identical"
    undo_of: Mapped[int | None] = mapped_column(Integer)  # the organize item a rollback item reverses
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("uq_operation_items_op_id_seq", "op_id", "seq", unique=True),
        Index("ix_operation_items_file_id", "file_id"),  # a file's history (`anivault show N`)
    )
