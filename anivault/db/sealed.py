"""Connections for SQL that people type (`anivault sql`): read-only means it reads the library and nothing
else, and every statement can be stopped.

`mode=ro` alone keeps the library file unchanged, but SQLite can still write elsewhere from a read-only
connection: `VACUUM INTO '/any/path'` writes a full copy, `ATTACH 'file:x?mode=rwc'` creates files, and
`PRAGMA journal_mode=DELETE` fails late with a confusing "disk I/O error". The authorizer below allows only
reading (SELECT, reading columns, functions other than extension loading, recursive CTEs) and the pragmas
that only report; everything else is refused before it runs, and the refusal names what was refused.
No database can be attached at all (SQLite's attached-database limit is 0).

Stopping: a progress handler runs every few thousand virtual-machine steps and ends the statement when the
caller asked to stop (Ctrl-C) or its time is up. It runs Python code, so a signal handler gets its turn
inside a long statement too, which a plain `execute` would never give it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

# Pragmas that only report. Those marked with a value may also take one (they then change a setting),
# so they are allowed only without it; the others take a table or index name, which changes nothing.
_REPORTING_PRAGMAS = frozenset(
    {
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
        "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "database_list",
        "collation_list", "function_list", "module_list", "pragma_list", "compile_options",
        "freelist_count", "page_count", "data_version",
    }
)  # fmt: skip
_SETTING_PRAGMAS = frozenset(
    {
        "page_size", "schema_version", "user_version", "application_id", "encoding", "journal_mode",
        "foreign_keys", "cache_size", "synchronous", "auto_vacuum", "busy_timeout", "temp_store",
        "max_page_count", "mmap_size", "locking_mode", "wal_autocheckpoint",
    }
)  # fmt: skip
_READING = frozenset(
    {
        sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
        getattr(sqlite3, "SQLITE_RECURSIVE", 33),
    }
)  # fmt: skip
_SCHEMA_ROWS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
_NAMES = {
    value: name.removeprefix("SQLITE_").replace("_", " ")
    for name, value in vars(sqlite3).items()
    if name.startswith("SQLITE_") and isinstance(value, int) and name != "SQLITE_OK"
    and name not in ("SQLITE_DENY", "SQLITE_IGNORE") and not name.startswith("SQLITE_LIMIT")
}  # fmt: skip
_NAMES[sqlite3.SQLITE_ATTACH] = "ATTACH or VACUUM INTO (they write other files):"
# How many SQLite virtual-machine steps between two looks at the clock and at Ctrl-C (~1 ms of work).
_STEPS = 5000


@dataclass
class Guard:
    """What a sealed connection refused, and whether its statement should stop."""

    timeout: float | None = None
    refused: str | None = None
    cancelled: bool = False
    timed_out: bool = False
    _deadline: float | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the clock (call right before executing)."""
        self._deadline = time.monotonic() + self.timeout if self.timeout else None

    def cancel(self) -> None:
        """Stop the running statement at its next step (safe to call from a signal handler)."""
        self.cancelled = True

    def _progress(self) -> int:
        if self.cancelled:
            return 1
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.timed_out = True
            return 1
        return 0

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None
    ) -> int:
        if action in _READING and not (action == sqlite3.SQLITE_FUNCTION and arg2 == "load_extension"):
            return sqlite3.SQLITE_OK
        if action in _SCHEMA_ROWS and arg1 in ("sqlite_master", "sqlite_temp_master"):
            # The schema rows a CREATE or DROP would write: its own action code comes next and is refused
            # by name (the statement is refused while it is prepared, before anything runs).
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _REPORTING_PRAGMAS or (name in _SETTING_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
            what = f"PRAGMA {name}" + (f" = {arg2}" if arg2 is not None else "")
        elif action == sqlite3.SQLITE_FUNCTION:
            what = f"the function {arg2}()"
        else:
            what = _NAMES.get(action, f"action {action}") + (f" {arg1}" if arg1 else "")
        if self.refused is None:
            self.refused = what
        return sqlite3.SQLITE_DENY


def guard(conn: sqlite3.Connection, *, read_only: bool, timeout: float | None = None) -> Guard:
    """Install the stop check on ``conn`` and, with ``read_only``, the authorizer and a limit of no attached
    databases. Returns the Guard that reports refusals and stops the statement."""
    g = Guard(timeout)
    conn.set_progress_handler(g._progress, _STEPS)
    if read_only:
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(g._authorize)
    return g
