"""Ledger: operations, operation_items, view v_ledger

Revision ID: 0003_ledger
Revises: 0002_matching
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ledger"
down_revision = "0002_matching"
branch_labels = None
depends_on = None

# The documented SQL surface of the ledger: one row per item with its run.
V_LEDGER = """
CREATE VIEW v_ledger AS
SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,
       o.finished_at AS op_finished_at, o.dest, o.undo_of AS op_undo_of,
       i.seq, i.action, i.src, i.dst, i.state, i.note, i.size, i.file_id, i.undo_of AS item_undo_of,
       i.finished_at
FROM operation_items i
JOIN operations o ON o.id = i.op_id
"""


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dest", sa.Text(), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["undo_of"], ["operations.id"], name=op.f("fk_operations_undo_of_operations"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    op.create_table(
        "operation_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("op_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("src", sa.Text(), nullable=True),
        sa.Column("src_raw", sa.LargeBinary(), nullable=True),
        sa.Column("dst", sa.Text(), nullable=False),
        sa.Column("dst_raw", sa.LargeBinary(), nullable=True),
        sa.Column("tmp", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("dev", sa.BigInteger(), nullable=True),
        sa.Column("inode", sa.BigInteger(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("dst_dev", sa.BigInteger(), nullable=True),
        sa.Column("dst_inode", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_operation_items_file_id_files"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["op_id"], ["operations.id"], name=op.f("fk_operation_items_op_id_operations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operation_items")),
    )
    op.create_index("uq_operation_items_op_id_seq", "operation_items", ["op_id", "seq"], unique=True)
    op.create_index("ix_operation_items_op_id_state", "operation_items", ["op_id", "state"])
    op.create_index("ix_operation_items_file_id", "operation_items", ["file_id"])
    op.execute(V_LEDGER)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_ledger")
    op.drop_index("ix_operation_items_file_id", table_name="operation_items")
    op.drop_index("ix_operation_items_op_id_state", table_name="operation_items")
    op.drop_index("uq_operation_items_op_id_seq", table_name="operation_items")
    op.drop_table("operation_items")
    op.drop_table("operations")
