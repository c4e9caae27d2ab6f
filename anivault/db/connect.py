"""Open the library database for a command: the engine with its pragmas, then the schema brought to head.

This is the one place that joins the engine (anivault.db.engine) and the migrations (anivault.db.migrate),
so neither imports the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

from anivault.db.engine import (
    DEFAULT_BUSY_MS,
    Database,
    check_sqlite_file,
    make_engine,
    probe_existing,
)
from anivault.db.fsdetect import network_fs
from anivault.db.migrate import ensure_current
from anivault.errors import DatabaseError

log = logging.getLogger(__name__)


def open_db(
    path: Path,
    *,
    migrate: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_MS,
    backup_dir: Path | None = None,
) -> Database:
    """Open (creating if needed) and, when `migrate`, upgrade the library database at `path`."""
    path = Path(path)
    check_sqlite_file(path)
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the folder for {path}: {exc.strerror}", hint="choose another --db path"
            ) from None
    if path.exists() and path.stat().st_size > 0:
        probe_existing(path)
    net = network_fs(path.parent)
    journal = "wal"
    if net:
        journal = "delete"
        log.warning(
            "the library database %s is on a network filesystem (%s): WAL is unsafe there, so AniVault uses "
            "journal_mode=DELETE (slower); keep library.db on a local disk for speed",
            path,
            net,
        )
    engine = make_engine(path, busy_timeout_ms=busy_timeout_ms, journal_mode=journal)
    db = Database(path=path, engine=engine, journal_mode=journal, network_fs=net)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except Exception as exc:  # sqlite3.DatabaseError wrapped by SQLAlchemy
        from anivault.paths import damaged_database_hint

        engine.dispose()
        raise DatabaseError(
            f"{path} cannot be opened as a database: {getattr(exc, 'orig', exc)}",
            hint=damaged_database_hint(path),
        ) from None
    if migrate:
        try:
            ensure_current(db, backup_dir=backup_dir)
        except BaseException:
            engine.dispose()
            raise
    return db
