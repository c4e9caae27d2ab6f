"""The runs table behind `anivault run` and `anivault status` (owned by the run stage; filled in by its owner)."""

from __future__ import annotations
