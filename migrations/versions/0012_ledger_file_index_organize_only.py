"""Ledger: the `(op_id, file_id)` index holds organize items only

Revision ID: 0012_ledger_file_index_organize_only
Revises: 0011_ledger_undone_derived
Create Date: 2026-11-22

A rollback's intent is one `INSERT ... SELECT` of up to 100,000 rows, and each row's `(op_id, file_id)` entry
went wherever its file's id falls: with ids in the index's walk order, a third of the insert's time (0.30 ->
0.19 s alone at 100,000 items, 0.27 s less CPU in the run, docs/organize-benchmark-log.md). The index is now
partial, `WHERE undo_of IS NULL`: rollback items are not in it. A file's history (`anivault show`) finds its
organize items by the index as before, and the rollback items that reverse them by their run and seq (item k
of a rollback reverses item last + 1 - k of its run).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger_file_index_organize_only"
down_revision = "0011_ledger_undone_derived"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_operation_items_op_id_file_id", table_name="operation_items")
    op.create_index(
        "ix_operation_items_op_id_file_id",
        "operation_items",
        ["op_id", "file_id"],
        sqlite_where=sa.text("undo_of IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_operation_items_op_id_file_id", table_name="operation_items")
    op.create_index("ix_operation_items_op_id_file_id", "operation_items", ["op_id", "file_id"])
