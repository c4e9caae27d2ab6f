"""Alembic, driven from code: no alembic.ini, the scripts ship inside the package as anivault.migrations.

`ensure_current` runs whenever a command opens the database: a new file is created at head, an older one
is backed up and upgraded (SQLite DDL is transactional, so a failed upgrade leaves the old revision), a
newer, foreign or pre-release one is refused untouched.

The head revision is read from the scripts' file names (`NNNN_name.py`, revision id = file name), so the
check that runs on every command costs one query and no Alembic import; a test holds the names to
Alembic's own idea of the head.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anivault.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

    from anivault.db.engine import Database

log = logging.getLogger(__name__)

# Revisions of development builds before the first release, squashed into 0001_baseline. A library made
# by one of them cannot be upgraded (its history was never released); it is refused with what to do.
PRE_RELEASE = frozenset(
    {
        "0001_core", "0002_matching", "0003_ledger", "0004_runs", "0005_ledger_state_index",
        "0006_ledger_dir_len", "0007_files_size_index", "0008_drop_files_root_status_index",
        "0009_drop_files_dir_index", "0010_ledger_run_file_index", "0011_ledger_undone_derived",
        "0012_ledger_file_index_organize_only",
    }
)  # fmt: skip


def migrations_dir() -> Path:
    import importlib

    # anivault.migrations is the top-level migrations/ folder, mapped into the package by pyproject.
    return Path(str(importlib.import_module("anivault.migrations").__file__)).parent


@cache
def revisions() -> tuple[str, ...]:
    """Every revision id, oldest first (the scripts' file names)."""
    names = os.listdir(migrations_dir() / "versions")
    return tuple(sorted(n[:-3] for n in names if n.endswith(".py") and n[:4].isdigit()))


def head_revision() -> str:
    return revisions()[-1]


def alembic_config(connection: Any | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        try:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except Exception:  # no alembic_version table: a new (or foreign) file
            return None


def user_tables(conn: Any) -> list[str]:
    rows = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [r[0] for r in rows]


def ensure_current(db: Database, *, backup_dir: Path | None = None) -> str | None:
    """Bring the database to head. Returns the backup path's name when an upgrade made one."""
    head = head_revision()
    if current_revision(db) == head:  # every command on an up-to-date library: one query
        return None
    from alembic import command

    # One IMMEDIATE transaction: two processes opening a new library at once do not both migrate it.
    with db.engine.begin() as conn:
        tables = user_tables(conn)
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() if (
            "alembic_version" in tables
        ) else None  # fmt: skip
        if current == head:
            return None
        if tables and "alembic_version" not in tables:
            raise DatabaseError(
                f"{db.path} is an SQLite database AniVault did not make (tables: {', '.join(tables[:5])})",
                hint="point --db at a library.db made by AniVault, or at a new file name",
            )
        if current in PRE_RELEASE:
            raise DatabaseError(
                f"{db.path} was made by a development build of AniVault (schema {current}) and cannot be"
                " upgraded",
                hint=f"move {db.path} aside and run `anivault index` on your folders again to make a new"
                " library",
            )
        if current is not None and current not in revisions():
            raise DatabaseError(
                f"{db.path} was made by a newer AniVault (schema {current})",
                hint="upgrade AniVault (pip install -U anivault) to open it",
            )
        backup = None
        if current is not None:
            backup = backup_before_upgrade(db, current, backup_dir)
            log.info(
                "upgrading library database %s from %s to %s (backup: %s)", db.path, current, head, backup
            )
        command.upgrade(alembic_config(conn), "head")
    return backup.name if backup else None


def backup_before_upgrade(db: Database, current: str, backup_dir: Path | None) -> Path:
    from anivault.paths import app_paths

    return db.backup_before(current, backup_dir or app_paths().backup_dir)
