"""Keeping the library database in shape: compacting it (VACUUM) after a backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from anivault.errors import DatabaseError


def compact(path: Path, backup: Path) -> tuple[int, int]:
    """VACUUM the database at ``path`` (the caller holds the writer lock and made ``backup``): it gives back
    the space of deleted rows. Returns the file's size before and after."""
    before = path.stat().st_size
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("VACUUM")
        # In WAL mode the rebuilt pages sit in the WAL until a checkpoint; write them back now.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseError(
                "the library database is in use by another AniVault command; nothing was changed",
                hint="let it finish (or close `anivault ui`), then run `anivault db compact` again",
            ) from None
        # VACUUM is one transaction: a failure (a full disk, say) leaves the file as it was.
        raise DatabaseError(
            f"compacting failed ({exc}); nothing was changed",
            hint=f"it needs free space about the size of the database; the backup is {backup}",
        ) from None
    finally:
        conn.close()
    return before, path.stat().st_size
