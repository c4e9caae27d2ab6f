"""Ledger tables: operations, operation_items (owned by the organize stage; filled in by its owner)."""

from __future__ import annotations
