"""Ledger: the `(op_id, file_id)` index holds settled organize items only (not `pending` ones)

Revision ID: 0013_ledger_file_index_settled_only
Revises: 0012_ledger_file_index_organize_only
Create Date: 2026-11-22

An organize run's intent writes every item `pending` in one transaction before the first file moves, and
each item's `(op_id, file_id)` entry went wherever its file's id falls: with ids in the index's walk order,
a random insert per item, 0.07-0.09 s of the 0.38 s intent at 100,000 items (0.29-0.31 s without it,
docs/organize.md). The index is now partial on `state <> 'pending'` as well: an item enters it when the
batch writer marks it done (or a run marks it failed, skipped, aborted), on the writer's thread beside the
file operations instead of before the first one. A file's history (`anivault show`) finds settled items by
the index as before, and the pending items of runs still `running` (a run in progress, or one a crash left
for recovery: only those have pending items) by reading those runs' items.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_ledger_file_index_settled_only"
down_revision = "0012_ledger_file_index_organize_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_operation_items_op_id_file_id", table_name="operation_items")
    op.create_index(
        "ix_operation_items_op_id_file_id",
        "operation_items",
        ["op_id", "file_id"],
        sqlite_where=sa.text("undo_of IS NULL AND state <> 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_operation_items_op_id_file_id", table_name="operation_items")
    op.create_index(
        "ix_operation_items_op_id_file_id",
        "operation_items",
        ["op_id", "file_id"],
        sqlite_where=sa.text("undo_of IS NULL"),
    )
