"""Ledger: drop the (op_id, state) index of operation_items

Revision ID: 0005_ledger_state_index
Revises: 0004_runs
Create Date: 2026-11-21

Every item of a run is inserted `pending` and updated to its outcome, so this index cost two extra B-tree
changes per file per run, on the intent transaction and on the batch commits that race the file moves
(scripts/bench_organize.py). Every query that filtered on it also names the run, and the unique
(op_id, seq) index already narrows those to one run's rows.
"""

from __future__ import annotations

from alembic import op

revision = "0005_ledger_state_index"
down_revision = "0004_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_operation_items_op_id_state", table_name="operation_items")


def downgrade() -> None:
    op.create_index("ix_operation_items_op_id_state", "operation_items", ["op_id", "state"])
