"""Ledger: an organize item's `undone` is derived from its rollback's items, not written

Revision ID: 0011_ledger_undone_derived
Revises: 0010_ledger_run_file_index
Create Date: 2026-11-22

A rollback no longer marks each item it reversed `undone` in the original run: that was one more statement
per batch (and its pages in every commit) for the thread that set a rollback's pace. An organize item is
undone when an item of one of its run's rollbacks that reverses it is `done` (anivault/organize/itemstate.py);
item k of a rollback reverses item (last seq + 1 - k). `v_ledger` reports that state, and an index on
`operations.undo_of` finds a run's rollbacks. Rows earlier versions marked `undone` keep that state, so no
row changes on the way up; on the way down the derived state is written into the rows.
"""

from __future__ import annotations

from alembic import op

revision = "0011_ledger_undone_derived"
down_revision = "0010_ledger_run_file_index"
branch_labels = None
depends_on = None

# The SQL of anivault.organize.itemstate at this revision (a migration does not follow later code).
_UNDONE = (
    "EXISTS (SELECT 1 FROM operations r CROSS JOIN operation_items ri ON ri.op_id = r.id"
    " AND ri.seq = (SELECT max(l.seq) + 1 FROM operation_items l WHERE l.op_id = {i}.op_id) - {i}.seq"
    " WHERE r.undo_of = {i}.op_id AND ri.undo_of = {i}.id AND ri.state = 'done')"
)

V_LEDGER = f"""
CREATE VIEW v_ledger AS
SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,
       o.finished_at AS op_finished_at, o.dest, o.undo_of AS op_undo_of,
       i.seq, i.action, i.src, i.dst,
       CASE WHEN i.state = 'done' AND i.undo_of IS NULL AND {_UNDONE.format(i="i")} THEN 'undone'
            ELSE i.state END AS state,
       i.note, i.size, i.file_id, i.undo_of AS item_undo_of, i.finished_at
FROM operation_items i
JOIN operations o ON o.id = i.op_id
"""

# Revision 0003's view.
V_LEDGER_0003 = """
CREATE VIEW v_ledger AS
SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,
       o.finished_at AS op_finished_at, o.dest, o.undo_of AS op_undo_of,
       i.seq, i.action, i.src, i.dst, i.state, i.note, i.size, i.file_id, i.undo_of AS item_undo_of,
       i.finished_at
FROM operation_items i
JOIN operations o ON o.id = i.op_id
"""


def upgrade() -> None:
    op.create_index("ix_operations_undo_of", "operations", ["undo_of"])
    op.execute("DROP VIEW IF EXISTS v_ledger")
    op.execute(V_LEDGER)


def downgrade() -> None:
    op.execute(
        "UPDATE operation_items SET state = 'undone' WHERE state = 'done' AND undo_of IS NULL"
        f" AND {_UNDONE.format(i='operation_items')}"
    )
    op.execute("DROP VIEW IF EXISTS v_ledger")
    op.execute(V_LEDGER_0003)
    op.drop_index("ix_operations_undo_of", table_name="operations")
