"""Ledger: operations, operation_items, view v_ledger (filled in by the organize stage's owner)

Revision ID: 0003_ledger
Revises: 0002_matching
Create Date: 2026-11-21
"""

from __future__ import annotations

revision = "0003_ledger"
down_revision = "0002_matching"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
