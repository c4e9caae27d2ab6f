"""Ledger tables: operations, operation_items (owned by the organize stage).

The ledger is organize's write-ahead intent log: every item of a run is written `pending` in one durable
transaction before the first file is touched, so after any crash the ledger is a superset of what happened on
disk and recovery can resolve each item against the disk (see anivault.organize.recovery).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from anivault.db.base import Base, utcnow

# The ledger speaks plain SQL (organize/ledger.py): its tables are declared for the schema only.
operations = Table(
    "operations",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # organize|rollback
    # planned|running|done|partial|failed|interrupted|rolled_back|partial_rolled_back
    Column("status", String(16), nullable=False, default="planned"),
    Column("dest", Text),  # the library root (organize); None for rollback
    Column("args", Text, nullable=False, default="{}"),  # JSON: action, conflict, template, verify
    Column("undo_of", ForeignKey("operations.id", ondelete="SET NULL")),
    Column("total", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False, default=utcnow),
    Column("finished_at", DateTime),
    Column("error", Text),
)
"""One organize or rollback run."""

operation_items = Table(
    "operation_items",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("op_id", ForeignKey("operations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("file_id", ForeignKey("files.id", ondelete="SET NULL")),
    # move|copy|hardlink|symlink|mkdir (organize); move|restore|unlink|rmdir (rollback)
    Column("action", String(16), nullable=False),
    # Paths as readable text plus the exact bytes when the name is not valid UTF-8 (anivault.pathcodec).
    Column("src", Text),
    Column("src_raw", LargeBinary),
    Column("dst", Text, nullable=False),
    Column("dst_raw", LargeBinary),
    Column("tmp", Text),  # temp name beside dst for copies
    # The source's fingerprint when it was planned (size, mtime_ns, dev, inode)
    Column("size", BigInteger),
    Column("mtime_ns", BigInteger),
    Column("dev", BigInteger),
    Column("inode", BigInteger),
    Column("hash", String(64)),
    Column("dst_dev", BigInteger),  # what was placed, for rollback's check
    Column("dst_inode", BigInteger),
    # pending|done|failed|skipped|conflict|aborted; an organize item its rollback reversed: undone
    Column("state", String(16), nullable=False, default="pending"),
    Column("note", Text),  # why skipped/failed/conflict, or how it was done
    Column("undo_of", Integer),  # the organize item a rollback item reverses
    Column("finished_at", DateTime),
    Index("uq_operation_items_op_id_seq", "op_id", "seq", unique=True),
    Index("ix_operation_items_file_id", "file_id"),  # a file's history (`anivault show N`)
)
"""One file (or folder) step of a run, with the source fingerprint taken when it was planned."""
