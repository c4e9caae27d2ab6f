"""Reading the library back: one file's details, library statistics, row counts.

Everything here works on a plain `sqlite3.Connection` (the CLI opens it read-only) and on the documented
views (`v_library`, `v_unmatched`, `v_ledger`) where they cover what is asked. Nothing here prints.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from anivault.db.query import EFFECTIVE_SEASON, HEIGHT, iter_rows

# --- One file ---------------------------------------------------------------------------------------


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    return next(iter_rows(conn.execute(sql, tuple(params))), None)


def _all(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return list(iter_rows(conn.execute(sql, tuple(params))))


def _json_field(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


LEDGER_LIMIT = 50  # a file moved back and forth many times: show the latest steps, say how many in all
# A file's ledger rows (v_ledger's): the items of every run, organize and rollback, that moved this file.
LEDGER_HISTORY = (
    "SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,"
    " i.seq, i.action, i.src, i.dst, i.state, i.note, i.finished_at"
    " FROM operation_items i JOIN operations o ON o.id = i.op_id WHERE i.file_id = ?1"
)


def file_detail(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """Everything the library knows about one file, or None when there is no such id."""
    if not -(2**63) <= file_id < 2**63:  # cannot be an SQLite rowid (and cannot be bound)
        return None
    file = _one(
        conn,
        "SELECT f.id, f.path, f.path_raw IS NOT NULL AS path_has_raw_bytes, f.dir, f.name, f.ext, f.kind,"
        " f.status, f.size, f.mtime_ns, f.dev, f.inode, f.first_seen, f.last_seen, f.first_scan_id,"
        " f.last_scan_id, f.video_id, f.root_id, r.path AS root"
        " FROM files f LEFT JOIN roots r ON r.id = f.root_id WHERE f.id = ?",
        (file_id,),
    )
    if file is None:
        return None
    file["path_has_raw_bytes"] = bool(file["path_has_raw_bytes"])
    detail: dict[str, Any] = {"file": file}

    parse = _one(conn, "SELECT * FROM parses WHERE file_id = ?", (file_id,))
    if parse is not None:
        parse.pop("file_id", None)
        parse["raw"] = _json_field(parse.get("raw"))
    detail["parse"] = parse

    companion_sql = (
        "SELECT f.id, f.path, f.kind, f.ext, f.status, f.size, p.languages"
        " FROM files f LEFT JOIN parses p ON p.file_id = f.id WHERE f.video_id = ? ORDER BY f.path"
    )
    detail["companions"] = _all(conn, companion_sql, (file_id,))
    detail["video"] = (
        _one(conn, "SELECT id, path, status FROM files WHERE id = ?", (file["video_id"],))
        if file["video_id"] is not None
        else None
    )

    match = None
    if table_exists(conn, "matches"):
        match = _one(conn, "SELECT * FROM matches WHERE file_id = ?", (file_id,))
        if match is not None:
            match.pop("file_id", None)
            match["candidates"] = _json_field(match.get("candidates"))
    detail["match"] = match

    detail["scans"] = _scan_history(conn, file)

    ledger: dict[str, Any] | None = None
    if table_exists(conn, "v_ledger"):
        total = conn.execute(f"SELECT count(*) FROM ({LEDGER_HISTORY})", (file_id,)).fetchone()[0]
        items = _all(
            conn,
            f"SELECT * FROM ({LEDGER_HISTORY}) ORDER BY op_id DESC, seq DESC LIMIT ?2",
            (file_id, LEDGER_LIMIT),
        )
        ledger = {"total": total, "items": items}
    detail["ledger"] = ledger
    return detail


def _scan_history(conn: sqlite3.Connection, file: dict[str, Any]) -> dict[str, Any]:
    def scan(scan_id: Any) -> dict[str, Any] | None:
        if scan_id is None:
            return None
        return _one(conn, "SELECT id, started_at, finished_at, status FROM scans WHERE id = ?", (scan_id,))

    last_id = file["last_scan_id"]
    since: list[dict[str, Any]] = []
    since_count = 0
    if last_id is not None:
        # Scans after the last one that saw the file. For a present file this is usually none; for a
        # missing file it says how long it has been gone. Only scans of the file's root count when the
        # scan recorded its roots (a scan of another folder says nothing about this file).
        for row in iter_rows(
            conn.execute(
                "SELECT id, started_at, finished_at, status, roots FROM scans WHERE id > ? ORDER BY id",
                (last_id,),
            )
        ):
            roots = _json_field(row.pop("roots"))
            if file["root"] and isinstance(roots, list) and roots and file["root"] not in roots:
                continue
            since_count += 1
            if len(since) < 10:
                since.append(row)
    return {
        "first": scan(file["first_scan_id"]),
        "last": scan(last_id),
        "since_last_seen": since_count,
        "since_last_seen_sample": since,
    }


# --- Statistics ------------------------------------------------------------------------------------

TOP_SERIES = 15


def library_stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Totals and breakdowns of the whole library (each one GROUP BY in SQLite, nothing held in Python)."""
    stats: dict[str, Any] = {}
    totals = _one(
        conn,
        "SELECT count(*) AS files,"
        " COALESCE(sum(status = 'present'), 0) AS present,"
        " COALESCE(sum(status = 'missing'), 0) AS missing,"
        " COALESCE(sum(CASE WHEN status = 'present' THEN size END), 0) AS present_bytes,"
        " COALESCE(sum(kind = 'video' AND status = 'present'), 0) AS videos,"
        " COALESCE(sum(kind <> 'video' AND status = 'present'), 0) AS companions,"
        " COALESCE(sum(kind = 'video' AND status = 'present' AND video_id IS NULL"
        "   AND NOT EXISTS (SELECT 1 FROM files c WHERE c.video_id = files.id)), 0) AS videos_without_companions"
        " FROM files",
    )
    assert totals is not None
    totals["series"] = conn.execute(
        "SELECT count(DISTINCT title_norm) FROM v_library"
        " WHERE kind = 'video' AND status = 'present' AND title_norm IS NOT NULL"
    ).fetchone()[0]
    totals["roots"] = conn.execute("SELECT count(*) FROM roots").fetchone()[0]
    totals["scans"] = conn.execute("SELECT count(*) FROM scans").fetchone()[0]
    stats["totals"] = totals
    stats["by_kind"] = _all(
        conn,
        "SELECT kind, status, count(*) AS files, COALESCE(sum(size), 0) AS bytes"
        " FROM files GROUP BY kind, status ORDER BY kind = 'video' DESC, kind, status",
    )
    stats["by_root"] = _all(
        conn,
        # One pass over `files`, grouped by root, joined to the roots afterwards (no index on root_id).
        "SELECT r.path AS root, COALESCE(f.present, 0) AS present, COALESCE(f.videos, 0) AS videos,"
        " COALESCE(f.missing, 0) AS missing, COALESCE(f.bytes, 0) AS bytes,"
        " substr(s.finished_at, 1, 19) AS last_scan_at"
        " FROM roots r LEFT JOIN (SELECT root_id, sum(status = 'present') AS present,"
        " sum(status = 'present' AND kind = 'video') AS videos, sum(status = 'missing') AS missing,"
        " sum(CASE WHEN status = 'present' THEN size END) AS bytes FROM files GROUP BY root_id) f"
        " ON f.root_id = r.id LEFT JOIN scans s ON s.id = r.last_scan_id ORDER BY r.path",
    )
    stats["by_extension"] = _all(
        conn,
        "SELECT ext, kind, count(*) AS files, COALESCE(sum(size), 0) AS bytes FROM files"
        " WHERE status = 'present' GROUP BY ext, kind ORDER BY files DESC, ext",
    )
    stats["by_match_status"] = _all(
        conn,
        "SELECT COALESCE(match_status, 'new') AS match_status, count(*) AS videos FROM v_library"
        " WHERE kind = 'video' AND status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["by_media_kind"] = _all(
        conn,
        "SELECT COALESCE(media_kind, 'unparsed') AS media_kind, count(*) AS videos FROM v_library"
        " WHERE kind = 'video' AND status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["by_resolution"] = _all(
        conn,
        f"SELECT CASE WHEN ({HEIGHT}) > 0 THEN ({HEIGHT}) || 'p' ELSE 'unknown' END AS resolution,"
        " count(*) AS videos FROM v_library v"
        " WHERE v.kind = 'video' AND v.status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["top_series"] = _all(
        conn,
        "SELECT max(title) AS title, title_norm, count(*) AS videos,"
        f" count(DISTINCT {EFFECTIVE_SEASON}) AS seasons, count(DISTINCT release_group) AS groups,"
        " COALESCE(sum(size), 0) AS bytes"
        " FROM v_library v WHERE v.kind = 'video' AND v.status = 'present' AND v.title_norm IS NOT NULL"
        " GROUP BY title_norm ORDER BY videos DESC, title_norm LIMIT ?",
        (TOP_SERIES,),
    )
    stats["parser_versions"] = _all(
        conn,
        "SELECT parser, parser_version, count(*) AS files FROM parses"
        " GROUP BY parser, parser_version ORDER BY parser_version DESC, files DESC",
    )
    stats["last_scan"] = _one(
        conn,
        "SELECT id, started_at, finished_at, status, seen, new, changed, moved, missing, restored,"
        " unchanged, reparsed, errors FROM scans ORDER BY id DESC LIMIT 1",
    )
    return stats


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows in every table (for `db status`)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    # Table names come from sqlite_master itself, quoted as identifiers: nothing user-typed reaches here.
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
