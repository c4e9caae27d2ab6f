"""Runs: the runs table behind anivault run / status (filled in by its owner)

Revision ID: 0004_runs
Revises: 0003_ledger
Create Date: 2026-11-21
"""

from __future__ import annotations

revision = "0004_runs"
down_revision = "0003_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
