"""What `anivault status` reports about the library: the last run, scan and organize, what waits for
review, what failed. Plain data; the CLI renders it.

It opens the database read-only (``mode=ro``) and asks only for the tables that exist, so it works on a
database whose later stages have never run.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from anivault.procs import process_alive


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r["name"]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def status(db_path: Path, *, failures: int = 10, review: int = 10) -> dict[str, Any]:
    """The last run, the last scan, what waits for review and what failed: whatever the tables can tell."""
    out: dict[str, Any] = {"database": str(db_path), "exists": db_path.exists()}
    if not db_path.exists():
        out["hint"] = "no library yet: run `anivault index FOLDER` or `anivault run FOLDER --dest LIBRARY`"
        return out
    try:
        with contextlib.closing(sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            conn.execute("PRAGMA busy_timeout=5000")
            conn.row_factory = _row
            out["last_run"] = _last_run(conn)
            out["last_scan"] = _last_scan(conn)
            out["library"] = _library_counts(conn)
            out["matching"] = _matching(conn, review)
            out["last_organize"] = _last_organize(conn, failures)
    except sqlite3.DatabaseError as exc:
        from anivault.errors import DatabaseError

        raise DatabaseError(
            f"cannot read {db_path}: {exc}", hint="run `anivault verify` to check the database"
        ) from None
    return out


def _last_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if not _has_table(conn, "runs"):
        return None
    row: dict[str, Any] | None = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    for key in ("args", "counts", "cursor"):
        row[key] = _json(row.get(key))
    state = row.get("state")
    if state == "running" and row.get("pid") and not process_alive(int(row["pid"]), row.get("host")):
        row["state"] = state = "interrupted"
        row["note"] = "the process that ran it is gone (crash or kill)"
    row["resumable"] = state in {"interrupted", "failed", "planned"}
    row.pop("pid", None)
    row.pop("host", None)
    return row


def _last_scan(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if not _has_table(conn, "scans"):
        return None
    row: dict[str, Any] | None = conn.execute("SELECT * FROM scans ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    for key in ("roots", "error_samples"):
        if key in row:
            row[key] = _json(row[key])
    return row


def _library_counts(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if not _has_table(conn, "files"):
        return None
    counts: dict[str, Any] = {}
    for row in conn.execute("SELECT kind, status, count(*) AS n FROM files GROUP BY kind, status"):
        counts.setdefault(row["kind"], {})[row["status"]] = row["n"]
    return counts


def _matching(conn: sqlite3.Connection, limit: int) -> dict[str, Any] | None:
    if not _has_table(conn, "matches") or "status" not in _columns(conn, "matches"):
        return None
    by_status = {
        r["status"]: r["n"] for r in conn.execute("SELECT status, count(*) AS n FROM matches GROUP BY status")
    }
    out: dict[str, Any] = {"by_status": by_status}
    if _has_table(conn, "files"):
        row = conn.execute(
            "SELECT count(*) AS n FROM files f WHERE f.kind='video' AND f.status='present' "
            "AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.file_id=f.id)"
        ).fetchone()
        out["not_matched_yet"] = row["n"] if row else 0
    if "series_key" in _columns(conn, "matches"):
        out["waiting_for_review"] = conn.execute(
            "SELECT series_key, count(*) AS files, max(confidence) AS confidence FROM matches "
            "WHERE status='review' GROUP BY series_key ORDER BY files DESC, series_key LIMIT ?",
            (limit,),
        ).fetchall()
    return out


def _last_organize(conn: sqlite3.Connection, limit: int) -> dict[str, Any] | None:
    if not _has_table(conn, "operations"):
        return None
    op: dict[str, Any] | None = conn.execute(
        "SELECT * FROM operations WHERE kind='organize' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if op is None:
        return None
    op["args"] = _json(op.get("args"))
    if _has_table(conn, "operation_items"):
        op["items"] = item_counts(conn, op["id"])
        op["failed"] = conn.execute(
            "SELECT seq, src, dst, state, note FROM operation_items WHERE op_id=? "
            "AND state IN ('failed', 'conflict') ORDER BY seq LIMIT ?",
            (op["id"], limit),
        ).fetchall()
    return op


def item_counts(conn: sqlite3.Connection, op_id: int) -> dict[str, int]:
    """How many items of run ``op_id`` are in each state (for the ledger and for `anivault status`,
    whatever row factory ``conn`` has)."""
    cur = conn.cursor()
    cur.row_factory = None
    rows = cur.execute("SELECT state, count(*) FROM operation_items WHERE op_id=? GROUP BY state", (op_id,))
    return {str(state): int(n) for state, n in rows}
