"""Files: drop the `(root_id, status)` index, which no query needed and every move paid for

Revision ID: 0008_drop_files_root_status_index
Revises: 0007_files_size_index
Create Date: 2026-11-22

No statement looks `files` up by root: the index stage works folder by folder (`dir`), and the per-root
counts of `anivault stats` read the whole table in one pass. The index still changed with every file organize
moved out of (or into) an indexed folder, at a random place when ids follow the index's walk: 2 to 3 µs of
each moved file's `files` update (docs/organize-benchmark-log.md).
"""

from __future__ import annotations

from alembic import op

revision = "0008_drop_files_root_status_index"
down_revision = "0007_files_size_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_files_root_status", table_name="files")


def downgrade() -> None:
    op.create_index("ix_files_root_status", "files", ["root_id", "status"])
