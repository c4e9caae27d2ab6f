"""Files: index move detection by size alone, so a move or rename does not change the index

Revision ID: 0007_files_size_index
Revises: 0006_ledger_dir_len
Create Date: 2026-11-22

The index stage finds a moved file by `(dev, inode)` first and by `size = ? AND name = ?` second. An index on
`(size, name)` changed with every file organize renamed, at a random place when sizes are real; where its
entries moved in random order it was half of each moved file's `files` update (13 -> 6 µs a row,
docs/organize-benchmark-log.md). Indexed by size alone it does not change on a move (a move keeps the size),
and the lookup stays selective: a video's size in bytes is nearly unique in a library, and the name is checked
on the row.
"""

from __future__ import annotations

from alembic import op

revision = "0007_files_size_index"
down_revision = "0006_ledger_dir_len"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_files_size_name", table_name="files")
    op.create_index("ix_files_size", "files", ["size"])


def downgrade() -> None:
    op.drop_index("ix_files_size", table_name="files")
    op.create_index("ix_files_size_name", "files", ["size", "name"])
