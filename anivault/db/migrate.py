"""Alembic, driven from code: no alembic.ini, the scripts ship inside the package as anivault.migrations.

`ensure_current` runs whenever a command opens the database: a new file is created at head, an older one
is backed up and upgraded (SQLite DDL is transactional, so a failed upgrade leaves the old revision), a
newer or foreign one is refused untouched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from anivault.errors import DatabaseError

if TYPE_CHECKING:
    from anivault.db.engine import Database

log = logging.getLogger(__name__)

# The newest migration's revision id. A test checks it equals the scripts' head, so adding a migration
# without updating it fails CI rather than silently skipping an upgrade.
HEAD = "0012_ledger_file_index_organize_only"


def migrations_dir() -> Path:
    import importlib

    # anivault.migrations is the top-level migrations/ folder, mapped into the package by pyproject.
    module = importlib.import_module("anivault.migrations")
    return Path(str(module.__file__)).parent


def alembic_config(connection: Any | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:  # pragma: no cover - guarded by a test
        raise DatabaseError(f"migrations have {len(heads)} heads", hint="this is a bug in AniVault")
    return heads[0]


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def user_tables(conn: Any) -> list[str]:
    rows = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [r[0] for r in rows]


def ensure_current(db: Database, *, backup_dir: Path | None = None) -> str | None:
    """Bring the database to head. Returns the backup path's name when an upgrade made one."""
    # Fast path for every command on an up-to-date library: one query, no migration scripts loaded.
    with db.engine.connect() as conn:
        try:
            if conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD:
                return None
        except Exception:  # no alembic_version table yet: a new (or foreign) file, handled below
            conn.rollback()
    head = head_revision()
    # One IMMEDIATE transaction: two processes opening a new library at once do not both migrate it.
    with db.engine.begin() as conn:
        tables = user_tables(conn)
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return None
        if tables and "alembic_version" not in tables:
            raise DatabaseError(
                f"{db.path} is an SQLite database AniVault did not make (tables: {', '.join(tables[:5])})",
                hint="point --db at a library.db made by AniVault, or at a new file name",
            )
        if current is not None and current not in known_revisions():
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


def upgrade(db: Database) -> None:
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
