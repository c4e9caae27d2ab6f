"""Files: drop the `dir` index; a folder's files are found through the `path` index instead

Revision ID: 0009_drop_files_dir_index
Revises: 0008_drop_files_root_status_index
Create Date: 2026-11-23

Every file organize moves changes its `dir`, so the index took a delete and an insert at random places with
each moved row, and its pages were rewritten by every batch commit. The index stage, its only reader, now
finds a folder's files as a range of the `path` index (the folder's prefix) whose rest holds no separator:
the same rows, read from the index alone. Interleaved at 100k organize moves in walk order, the run's CPU
fell from 6.8 to 5.3 s (docs/organize-benchmark-log.md).
"""

from __future__ import annotations

from alembic import op

revision = "0009_drop_files_dir_index"
down_revision = "0008_drop_files_root_status_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_files_dir", table_name="files")


def downgrade() -> None:
    op.create_index("ix_files_dir", "files", ["dir"])
