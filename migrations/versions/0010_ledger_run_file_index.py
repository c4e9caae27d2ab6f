"""Ledger: index a file's items by run, `(op_id, file_id)`, instead of by `file_id` alone

Revision ID: 0010_ledger_run_file_index
Revises: 0009_drop_files_dir_index
Create Date: 2026-11-22

A run's intent writes one `file_id` entry per item. With `file_id` leading, each entry landed among every
earlier run's entries for the same file, at a random place when ids follow the index's walk, so the intent
grew slower as the ledger's history grew: 0.46 s for 100,000 items on an empty ledger, 0.78 s after 16 runs.
With `op_id` leading, a run's entries fill a region of their own and the intent stays at 0.5 s however long
the history (interleaved, DB only, docs/organize-benchmark-log.md). `anivault show` reads a file's history
with one index search per run, driven from `operations`. `ON DELETE SET NULL` from `files` would now scan the
ledger; nothing in AniVault deletes `files` rows.
"""

from __future__ import annotations

from alembic import op

revision = "0010_ledger_run_file_index"
down_revision = "0009_drop_files_dir_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_operation_items_file_id", table_name="operation_items")
    op.create_index("ix_operation_items_op_id_file_id", "operation_items", ["op_id", "file_id"])


def downgrade() -> None:
    op.drop_index("ix_operation_items_op_id_file_id", table_name="operation_items")
    op.create_index("ix_operation_items_file_id", "operation_items", ["file_id"])
