"""The index's one writer thread: takes batches from a bounded queue and commits hundreds of rows per
`BEGIN IMMEDIATE` transaction with plain `sqlite3` (the ORM would triple the cost at 100k rows)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from anivault.db.engine import Database
from anivault.parsing import PARSER_VERSION
from anivault.pathcodec import encode_path
from anivault.pipeline.index.scan import ScannedFile

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IndexReport:
    scan_id: int
    roots: list[str]
    seen: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    restored: int = 0
    unchanged: int = 0
    reparsed: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FileRow:
    """One write for the writer thread (plain data, never an ORM object)."""

    action: str  # new | changed | moved | reparse | restore
    file_id: int | None
    path: str  # OS form
    dir: str  # OS form
    root_id: int
    scanned: ScannedFile
    video_name: str | None = None  # for companions: the video they belong to, in the same folder
    parse: dict[str, Any] | None = None
    needs_parse: bool = True
    folders: tuple[str, ...] = ()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Writer(threading.Thread):
    """The one thread that writes: takes batches from a bounded queue, commits hundreds of rows per
    transaction. If it fails, the error is kept and re-raised in the main thread."""

    def __init__(self, db: Database, scan_id: int, report: IndexReport, batch_size: int) -> None:
        super().__init__(name="anivault-index-writer", daemon=True)
        self.q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=256)
        self.db = db
        self.scan_id = scan_id
        self.report = report
        self.batch_size = max(1, batch_size)
        self.error: BaseException | None = None
        self.parsed = 0
        self._pending_links: list[tuple[int, str]] = []  # (companion id, video path) not yet resolvable

    def run(self) -> None:
        raw = self.db.engine.raw_connection()
        conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        try:
            batch: list[tuple[str, Any]] = []
            size = 0
            while True:
                op = self.q.get()
                if op[0] == "stop":
                    self._commit(conn, batch)
                    self._resolve_links(conn, final=True)
                    break
                if op[0] == "sync":
                    self._commit(conn, batch)
                    batch, size = [], 0
                    op[1].set()
                    continue
                batch.append(op)
                size += len(op[1]) if isinstance(op[1], list) else 1
                if size >= self.batch_size or self.q.empty():
                    self._commit(conn, batch)
                    batch, size = [], 0
        except BaseException as exc:
            self.error = exc
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            # Unblock a producer waiting on a full queue.
            with contextlib.suppress(queue.Empty):
                while True:
                    op = self.q.get_nowait()
                    if op[0] == "sync":
                        op[1].set()
        finally:
            raw.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[tuple[str, Any]]) -> None:
        if not batch:
            return
        now = _now()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for kind, payload in batch:
                if kind == "rows":
                    self._write_rows(conn, payload, now)
                elif kind == "touch":
                    conn.executemany(
                        f"UPDATE files SET last_scan_id=?, last_seen=? WHERE {in_folder()} AND status='present'",
                        [(self.scan_id, now, *folder_range(d)) for d in payload],
                    )
                elif kind == "missing":
                    conn.executemany(
                        "UPDATE files SET status='missing' WHERE id=? AND status='present'",
                        [(i,) for i in payload],
                    )
                elif kind == "missing_dirs":
                    for d in payload:
                        cur = conn.execute(
                            f"UPDATE files SET status='missing' WHERE {in_folder()} AND status='present'",
                            folder_range(d),
                        )
                        self.report.missing += cur.rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._resolve_links(conn, final=False)

    def _write_rows(self, conn: sqlite3.Connection, rows: list[FileRow], now: str) -> None:
        for row in rows:
            sf = row.scanned
            path_text, path_raw = encode_path(row.path)
            dir_text = encode_path(row.dir)[0]
            name_text = encode_path(sf.name)[0]
            if row.action == "new":
                cur = conn.execute(
                    "INSERT INTO files (root_id, path, path_raw, dir, name, ext, size, mtime_ns, dev, inode,"
                    " kind, status, first_seen, last_seen, first_scan_id, last_scan_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,'present',?,?,?,?)",
                    (row.root_id, path_text, path_raw, dir_text, name_text, sf.ext, sf.size, sf.mtime_ns,
                     sf.dev, sf.inode, sf.kind, now, now, self.scan_id, self.scan_id),
                )  # fmt: skip
                file_id = int(cur.lastrowid or 0)
            elif row.action == "reparse":  # the file itself is unchanged: only its parse is new
                file_id = int(row.file_id or 0)
                conn.execute(
                    "UPDATE files SET last_seen=?, last_scan_id=? WHERE id=?", (now, self.scan_id, file_id)
                )
            else:
                file_id = int(row.file_id or 0)
                conn.execute(
                    "UPDATE files SET root_id=?, path=?, path_raw=?, dir=?, name=?, ext=?, size=?, mtime_ns=?,"
                    " dev=?, inode=?, kind=?, status='present', last_seen=?, last_scan_id=? WHERE id=?",
                    (row.root_id, path_text, path_raw, dir_text, name_text, sf.ext, sf.size, sf.mtime_ns,
                     sf.dev, sf.inode, sf.kind, now, self.scan_id, file_id),
                )  # fmt: skip
            if row.parse is not None:
                self._write_parse(conn, file_id, row.parse, now)
                self.parsed += 1
            if row.video_name is not None:
                video_path = encode_path(os.path.join(row.dir, row.video_name))[0]
                self._pending_links.append((file_id, video_path))

    @staticmethod
    def _write_parse(conn: sqlite3.Connection, file_id: int, p: dict[str, Any], now: str) -> None:
        langs = p.get("languages") or []
        conn.execute(
            "INSERT OR REPLACE INTO parses (file_id, parser, parser_version, title, title_norm, season, episode,"
            " episode_end, part, year, kind, release_group, resolution, source, checksum, version, episode_title,"
            " languages, confidence, raw, parsed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (file_id, p.get("parser", "anitopy"), int(p.get("parser_version", PARSER_VERSION)), p.get("title"),
             p.get("title_norm"), p.get("season"), p.get("episode"), p.get("episode_end"), p.get("part"),
             p.get("year"), p.get("kind"), p.get("release_group"), p.get("resolution"), p.get("source"),
             p.get("checksum"), p.get("version"), p.get("episode_title"), ",".join(langs) or None,
             p.get("confidence"), json.dumps(p, ensure_ascii=False, default=str), now),
        )  # fmt: skip

    def _resolve_links(self, conn: sqlite3.Connection, *, final: bool) -> None:
        if not self._pending_links:
            return
        still: list[tuple[int, str]] = []
        updates: list[tuple[int, int]] = []
        for comp_id, video_path in self._pending_links:
            hit = conn.execute("SELECT id FROM files WHERE path=?", (video_path,)).fetchall()
            if hit:
                updates.append((int(hit[0][0]), comp_id))
            elif not final:
                still.append((comp_id, video_path))
        if updates:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("UPDATE files SET video_id=? WHERE id=?", updates)
            conn.execute("COMMIT")
        self._pending_links = still

    def put(self, op: tuple[str, Any]) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.q.put(op, timeout=0.5)
                return
            except queue.Full:
                continue

    def sync(self) -> None:
        done = threading.Event()
        self.put(("sync", done))
        while not done.wait(0.5):
            if self.error is not None or not self.is_alive():
                break
        if self.error is not None:
            raise self.error


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# A folder's own files (what `dir = ?` selects): the range of the `path` index under the folder's prefix,
# less the rows whose rest holds a separator (files of its subfolders). SQLite tests that on the index entry
# and reads only the folder's own rows; a subfolder's file costs an index entry, not a row. (There is no
# `dir` index: every file organize moves would change it.)
def in_folder(path: str = "path") -> str:
    """The condition on column ``path``; its parameters are folder_range's."""
    return f"{path} >= ? AND {path} < ? AND instr(substr({path}, ?), ?) = 0"


def folder_range(dir_text: str) -> tuple[str, str, int, str]:
    """The parameters of in_folder's condition for a folder's stored text."""
    sep = os.sep
    prefix = dir_text if dir_text.endswith(sep) else dir_text + sep
    return prefix, prefix[:-1] + chr(ord(sep) + 1), len(prefix) + 1, sep
