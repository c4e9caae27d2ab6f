"""`anivault db path|schema|status|upgrade|backup|compact`: find, inspect, upgrade, copy and compact the library
database."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

db_app = typer.Typer(
    name="db",
    help='Find, inspect, upgrade, back up and compact the library database.\n\nExample:\n\n\b\n    sqlite3 "$(anivault db path)"',
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("path")
def path() -> None:
    """Print the library database's path (and nothing else), so other tools can open it.

    Example:

    \b
        sqlite3 "$(anivault db path)" "select count(*) from v_library"
    """
    from anivault.cli.common import db_path

    sys.stdout.write(f"{db_path()}\n")
    sys.stdout.flush()


@db_app.command("schema")
def schema() -> None:
    """Print the CREATE statements of every table, index and view, as the database has them.

    Example:

    \b
        anivault db schema | grep -A12 "VIEW v_library"
    """
    from anivault.cli.common import db_path
    from anivault.cli.output import require_library

    require_library()
    conn = _readonly(db_path())
    try:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, name"
        ).fetchall()
    finally:
        conn.close()
    for (text,) in rows:
        sys.stdout.write(text.strip() + ";\n")
    sys.stdout.flush()


@db_app.command("status")
def status(
    json_out: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """Report on the library database: where it is, its size and WAL, journal mode, whether it is on a
    network filesystem, its schema revision against this AniVault's, rows per table, and a quick check.

    Example:

    \b
        anivault db status
        anivault db status --json
    """
    from anivault.cli.common import emit_json

    report = _status_report()
    if json_out:
        emit_json(report)
        return
    _print_status(report)


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the library database to this AniVault's schema, after a backup (commands also do this by
    themselves when they open an older database).

    Example:

    \b
        anivault db upgrade
    """
    from anivault.cli.common import db_path, open_library, say
    from anivault.db.migrate import current_revision, ensure_current, head_revision
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    head = head_revision()
    if not db_path().exists():
        with open_library():
            pass
        say(f"created a new library database at {display(str(db_path()))} (schema {head})")
        return
    with open_library(migrate=False) as db:
        before = current_revision(db)
        if before == head:
            say(f"already up to date (schema {head})")
            return
        backup_name = ensure_current(db, backup_dir=app_paths().backup_dir)
    say(f"upgraded from schema {before} to {head}")
    if backup_name:
        say(f"backup: {display(str(app_paths().backup_dir / backup_name))}")


@db_app.command("backup")
def backup(
    dest: Annotated[
        Path | None,
        typer.Argument(help="File or folder for the copy (default: the backups folder).", show_default=False),
    ] = None,
) -> None:
    """Copy the library database safely (SQLite's online backup, fine while other commands run), check
    the copy's integrity, and print its path.

    Example:

    \b
        anivault db backup
        anivault db backup ~/library-before-reorganising.db
    """
    import sqlite3

    from anivault.cli.common import open_library, say
    from anivault.cli.output import human_size, require_library
    from anivault.errors import DatabaseError, UsageError
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    require_library()
    with open_library(migrate=False) as db:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"{db.path.stem}-{stamp}.db"
        if dest is None:
            target = app_paths().backup_dir / name
        elif dest.is_dir():
            target = dest / name
        else:
            target = dest
        target = target.expanduser().absolute()
        if target.exists():
            raise UsageError(
                f"{display(str(target))} already exists; a backup never overwrites a file",
                hint="give a new file name or a folder",
            )
        if target == db.path.absolute():
            raise UsageError("the backup cannot be the library itself", hint="give another file name")
        db.backup_to(target)
    check = sqlite3.connect(target)
    try:
        result = [str(r[0]) for r in check.execute("PRAGMA integrity_check")]
    finally:
        check.close()
    if result != ["ok"]:
        raise DatabaseError(
            f"the backup at {display(str(target))} failed its integrity check: {'; '.join(result[:3])}",
            hint="run `anivault db status` to check the library itself",
        )
    say(f"backup: {human_size(target.stat().st_size)}, integrity ok")
    sys.stdout.write(f"{display(str(target))}\n")
    sys.stdout.flush()


@db_app.command("compact")
def compact() -> None:
    """Rebuild the library database in place (SQLite's VACUUM), after a backup: it gives back the space
    of deleted rows. Other AniVault commands wait until it is done.

    Example:

    \b
        anivault db compact
    """
    from anivault.cli.common import db_path, open_library, say
    from anivault.cli.output import human_size, require_library
    from anivault.db import maintenance
    from anivault.db.engine import writer_lock
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    require_library()
    path = db_path()
    with writer_lock(path, purpose="db compact"):  # no organize, index or sql --write meanwhile
        with open_library(migrate=False) as db:
            backup = db.backup_before("compact", app_paths().backup_dir)
        before, after = maintenance.compact(path, backup)  # closed: pooled connections would hold the file
    say(f"compacted: {human_size(before)} -> {human_size(after)}")
    say(f"backup: {display(str(backup))}")


def _readonly(path: Path) -> Any:
    import sqlite3

    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


def _status_report() -> dict[str, Any]:
    import sqlite3

    from anivault.cli.common import db_path
    from anivault.db.fsdetect import network_fs
    from anivault.db.library import row_counts, table_exists
    from anivault.db.migrate import head_revision
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    p = db_path()
    head = head_revision()
    wal = p.with_name(p.name + "-wal")
    report: dict[str, Any] = {
        "path": display(str(p)),
        "exists": p.exists(),
        "size": p.stat().st_size if p.exists() else None,
        "wal_size": wal.stat().st_size if wal.exists() else 0,
        "journal_mode": None,
        "page_size": None,
        "network_fs": network_fs(p.parent) if p.parent.exists() else None,
        "revision": None,
        "head": head,
        "up_to_date": False,
        "quick_check": None,
        "row_counts": {},
        "backup_dir": display(str(app_paths().backup_dir)),
    }
    if not p.exists():
        return report
    conn = _readonly(p)
    try:
        report["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
        report["page_size"] = conn.execute("PRAGMA page_size").fetchone()[0]
        if table_exists(conn, "alembic_version"):
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            report["revision"] = row[0] if row else None
        report["up_to_date"] = report["revision"] == head
        report["row_counts"] = row_counts(conn)
        checks = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
        report["quick_check"] = "ok" if checks == ["ok"] else checks
    except sqlite3.DatabaseError as exc:
        report["quick_check"] = [str(exc)]
    finally:
        conn.close()
    return report


def _print_status(r: dict[str, Any]) -> None:
    from anivault.cli.output import human_size

    out = sys.stdout
    out.write(f"path          {r['path']}\n")
    if not r["exists"]:
        out.write("exists        no (`anivault index FOLDER` creates it)\n")
        out.flush()
        return
    out.write(f"size          {human_size(r['size'])} ({r['size']} bytes)\n")
    out.write(f"wal           {human_size(r['wal_size'])}\n")
    out.write(f"journal mode  {r['journal_mode']}\n")
    if r["page_size"] is not None:
        out.write(f"pages         {r['page_size'] // 1024} KiB\n")
    net = r["network_fs"]
    out.write(f"filesystem    {'network (' + net + '): WAL is off here' if net else 'local'}\n")
    state = "up to date" if r["up_to_date"] else f"this AniVault has {r['head']}: `anivault db upgrade`"
    out.write(f"schema        {r['revision']} ({state})\n")
    qc = r["quick_check"]
    out.write(f"quick_check   {qc if qc == 'ok' else '; '.join(map(str, qc or []))}\n")
    out.write(f"backups       {r['backup_dir']}\n")
    out.write("rows\n")
    counts = r["row_counts"]
    width = max((len(k) for k in counts), default=0)
    for name, n in counts.items():
        out.write(f"  {name.ljust(width)}  {n}\n")
    out.flush()
