"""Ledger: the folder length of each item's paths

Revision ID: 0006_ledger_dir_len
Revises: 0005_ledger_state_index
Create Date: 2026-11-21

`src_dir_len` and `dst_dir_len` hold how many characters of `src`/`dst` are the folder (the name follows
one separator later), written with the item. A batch commit sets `files.dir` and `files.name` of every
moved file; cutting them at a stored length cost a third of what searching each path for its last
separator in SQL did (scripts/bench_organize.py). NULL (rows written before this revision, a file at a
filesystem root, Windows paths) makes the commit search the text as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ledger_dir_len"
down_revision = "0005_ledger_state_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ALTER TABLE ADD COLUMN: instant, existing rows read NULL.
    op.add_column("operation_items", sa.Column("src_dir_len", sa.Integer(), nullable=True))
    op.add_column("operation_items", sa.Column("dst_dir_len", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite's own DROP COLUMN (3.35+): a batch rebuild of the table would trip over v_ledger, which names it.
    op.execute("ALTER TABLE operation_items DROP COLUMN dst_dir_len")
    op.execute("ALTER TABLE operation_items DROP COLUMN src_dir_len")
