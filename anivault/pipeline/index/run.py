"""`anivault index`: walk → classify against the database → parse (process pool) → one writer thread.

Incremental by design: an unchanged file (same size and mtime_ns, parsed by the current parser version)
is never parsed again; a changed one is; a vanished one becomes `missing` (kept, with its history); a
moved one (same device and inode, or same size and name, old path gone) keeps its row, parse and match.
Memory stays flat: the walker holds one folder at a time, the database is asked about one folder at a
time, and only bounded queues sit between the stages.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anivault.db.engine import Database, writer_lock
from anivault.errors import UsageError
from anivault.media import companion_video, stem
from anivault.parsing import PARSER_VERSION, parse_name
from anivault.pathcodec import decode_path, display, encode_path
from anivault.pipeline.index.scan import IgnoreRules, ScannedFile, ScannedFolder, WalkError, walk
from anivault.pipeline.index.writer import (
    FileRow,
    IndexReport,
    _now,
    _under,
    _Writer,
    folder_range,
    in_folder,
)

if TYPE_CHECKING:
    from anivault.config import Settings

log = logging.getLogger(__name__)

CHUNK = 256  # names per process-pool task: large enough to amortise pickling, small enough to stream
INLINE_LIMIT = CHUNK  # fewer names than this are parsed in-process: a pool would cost more to start
MAX_ERROR_SAMPLES = 20
FLUSH_SECONDS = 1.0  # parse a partial chunk after this long, so an interrupted run loses little


@dataclass(slots=True)
class IndexOptions:
    roots: Sequence[Path]
    reparse: bool = False
    workers: int = 0
    batch_size: int = 500
    ignore: Sequence[str] = ()
    include_hidden: bool = False
    follow_symlinks: bool = False
    lock_wait_seconds: float = 10.0

    @classmethod
    def from_settings(
        cls, settings: Settings, roots: Sequence[Path], *, reparse: bool = False
    ) -> IndexOptions:
        """The options every front end (index, run, ui) uses: the [index] and [db] settings."""
        ix = settings.index
        return cls(
            roots=roots,
            reparse=reparse,
            workers=ix.workers,
            batch_size=ix.batch_size,
            ignore=ix.ignore,
            include_hidden=ix.include_hidden,
            follow_symlinks=ix.follow_symlinks,
            lock_wait_seconds=settings.db.lock_wait_seconds,
        )


ProgressFn = Callable[[int, int], None]  # (files seen, files parsed)


def parse_chunk(items: Sequence[tuple[str, tuple[str, ...]]]) -> list[dict[str, Any]]:
    """Runs in a worker process: parse names (never raises: parse_name does not)."""
    return [parse_name(name, folders).to_dict() for name, folders in items]


def _worker_init() -> None:
    # Ctrl-C goes to the whole process group; the parent decides what to do, workers just finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_context() -> Any:
    if getattr(sys, "frozen", False) or sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    # forkserver: never fork a process that already runs the writer thread.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["anivault.parsing"])
    return ctx


def normalise_roots(paths: Iterable[Path]) -> list[str]:
    """Absolute folder paths, checked, with a root inside another root dropped."""
    out: list[str] = []
    for p in paths:
        text = os.path.abspath(os.path.expanduser(os.fspath(p)))
        if not os.path.exists(text):
            raise UsageError(f"{display(text)} does not exist", hint="check the path and try again")
        if not os.path.isdir(text):
            raise UsageError(
                f"{display(text)} is not a folder", hint="give the folder that holds your videos"
            )
        out.append(text.rstrip(os.sep) or os.sep)
    out = sorted(set(out))
    kept: list[str] = []
    for root in out:
        if not any(root.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(root)
    return kept


class _Indexer:
    def __init__(self, db: Database, opts: IndexOptions, progress: ProgressFn | None) -> None:
        self.db = db
        self.opts = opts
        self.progress = progress
        self.claimed: set[int] = set()  # rows taken over by a move in this scan
        self.missing_now: set[int] = set()  # rows marked missing in this scan (a later move may revive one)
        self.pool: cf.ProcessPoolExecutor | None = None
        self.pending: list[FileRow] = []  # rows waiting for a parse chunk to fill
        self.pending_since = 0.0
        self.inflight = threading.BoundedSemaphore(max(2, self._workers() * 3))
        self.futures: set[cf.Future[list[dict[str, Any]]]] = set()
        self.lock = threading.Lock()

    def _workers(self) -> int:
        return self.opts.workers or max(1, os.cpu_count() or 1)

    # -- parse dispatch ------------------------------------------------------------------------------
    def queue_parse(self, row: FileRow, writer: _Writer) -> None:
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append(row)
        if len(self.pending) >= CHUNK:
            self.flush_parse(writer)

    def flush_if_stale(self, writer: _Writer) -> None:
        """Parse what waits for a chunk to fill when it has waited a while (slow disks, Ctrl-C)."""
        if self.pending and (self._workers() == 1 or time.monotonic() - self.pending_since > FLUSH_SECONDS):
            self.flush_parse(writer)

    def flush_parse(self, writer: _Writer) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        self.pending_since = time.monotonic()
        if self._workers() == 1 or (self.pool is None and len(rows) < INLINE_LIMIT):
            # Few names (or one worker): parsing here is cheaper than starting a pool.
            self._finish(rows, parse_chunk([(r.scanned.name, r.folders) for r in rows]), writer)
            return
        if self.pool is None:
            self.pool = cf.ProcessPoolExecutor(
                max_workers=self._workers(), mp_context=_pool_context(), initializer=_worker_init
            )
        self.inflight.acquire()
        fut = self.pool.submit(parse_chunk, [(r.scanned.name, r.folders) for r in rows])
        with self.lock:
            self.futures.add(fut)

        def done(f: cf.Future[list[dict[str, Any]]]) -> None:
            try:
                if f.cancelled():
                    return
                try:
                    parsed = f.result()
                except Exception:  # a broken pool: parse here rather than lose the rows
                    log.warning("parse worker failed; parsing %d names in-process", len(rows), exc_info=True)
                    parsed = parse_chunk([(r.scanned.name, r.folders) for r in rows])
                self._finish(rows, parsed, writer)
            except BaseException as exc:
                writer.error = writer.error or exc
            finally:
                with self.lock:
                    self.futures.discard(f)
                self.inflight.release()

        fut.add_done_callback(done)

    @staticmethod
    def _finish(rows: list[FileRow], parsed: list[dict[str, Any]], writer: _Writer) -> None:
        for row, p in zip(rows, parsed, strict=True):
            row.parse = p
        writer.put(("rows", rows))

    def wait_parses(self) -> None:
        while True:
            with self.lock:
                futs = list(self.futures)
            if not futs:
                return
            cf.wait(futs)

    def shutdown_pool(self, *, cancel: bool) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
            self.pool = None


def run_index(db: Database, opts: IndexOptions, progress: ProgressFn | None = None) -> IndexReport:
    """Index the roots into the library database and return what happened."""
    roots = normalise_roots(opts.roots)
    with writer_lock(db.path, wait_seconds=opts.lock_wait_seconds, purpose="index"):
        return _run_locked(db, opts, roots, progress)


def _run_locked(
    db: Database, opts: IndexOptions, roots: list[str], progress: ProgressFn | None
) -> IndexReport:
    started = time.monotonic()
    roots_text = [display(r) for r in roots]
    with db.engine.begin() as conn:
        scan_id = int(
            conn.exec_driver_sql(
                "INSERT INTO scans (started_at, status, roots, seen, new, changed, moved, missing, unchanged,"
                " reparsed, errors, error_samples) VALUES (?, 'running', ?, 0,0,0,0,0,0,0,0,'[]')",
                (_now(), json.dumps(roots_text, ensure_ascii=False)),
            ).lastrowid
            or 0
        )
        root_ids: dict[str, int] = {}
        for r, text in zip(roots, roots_text, strict=True):
            conn.exec_driver_sql(
                "INSERT INTO roots (path, added_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING",
                (text, _now()),
            )
            root_ids[r] = int(conn.exec_driver_sql("SELECT id FROM roots WHERE path=?", (text,)).scalar_one())
    report = IndexReport(scan_id=scan_id, roots=roots_text)
    ix = _Indexer(db, opts, progress)
    writer = _Writer(db, scan_id, report, opts.batch_size)
    rconn = db.raw_connect(readonly=True)  # the walker's reads; WAL lets them run beside the writer
    library_empty = rconn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
    bad_dirs: list[str] = []
    visited: set[str] = set()

    def on_error(err: WalkError) -> None:
        report.errors += 1
        if err.is_dir:
            bad_dirs.append(err.path)
        if len(report.error_samples) < MAX_ERROR_SAMPLES:
            report.error_samples.append(f"{display(err.path)}: {err.message}")
        log.warning("cannot read %s: %s", display(err.path), err.message)

    ignore = IgnoreRules(opts.ignore, include_hidden=opts.include_hidden)
    writer.start()
    try:
        for root in roots:
            root_id = root_ids[root]
            for folder in walk([root], ignore, follow_symlinks=opts.follow_symlinks, on_error=on_error):
                visited.add(encode_path(folder.path)[0])
                _index_folder(folder, root_id, ix, writer, rconn, report, library_empty, opts.reparse)
                ix.flush_if_stale(writer)
                if progress is not None:
                    progress(report.seen, writer.parsed)
        ix.flush_parse(writer)
        ix.wait_parses()
        ix.shutdown_pool(cancel=False)
        writer.sync()
        # Folders that held files last time and were not walked now (deleted or now ignored) go missing;
        # folders we could not read keep their files as they were.
        gone: list[str] = []
        for root in roots:
            rt = encode_path(root)[0]
            lo, hi = rt.rstrip(os.sep) + os.sep, rt.rstrip(os.sep) + chr(ord(os.sep) + 1)
            for (d,) in rconn.execute(
                "SELECT DISTINCT dir FROM files WHERE status='present' AND path >= ? AND path < ?", (lo, hi)
            ):
                if d in visited or any(_under(d, encode_path(b)[0]) for b in bad_dirs):
                    continue
                gone.append(d)
        if gone:
            writer.put(("missing_dirs", gone))
    except KeyboardInterrupt:
        report.interrupted = True
        with contextlib.suppress(Exception):
            ix.shutdown_pool(cancel=True)
    finally:
        rconn.close()
        with contextlib.suppress(BaseException):
            writer.put(("stop", None))
        writer.join()
        ix.shutdown_pool(cancel=True)
    report.seconds = round(time.monotonic() - started, 3)
    status = "interrupted" if report.interrupted else ("failed" if writer.error else "done")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE scans SET finished_at=?, status=?, seen=?, new=?, changed=?, moved=?, missing=?, unchanged=?,"
            " reparsed=?, errors=?, error_samples=?, restored=? WHERE id=?",
            (_now(), status, report.seen, report.new, report.changed, report.moved, report.missing,
             report.unchanged, report.reparsed, report.errors,
             json.dumps(report.error_samples, ensure_ascii=False), report.restored, scan_id),
        )  # fmt: skip
        for r in roots:
            conn.exec_driver_sql("UPDATE roots SET last_scan_id=? WHERE id=?", (scan_id, root_ids[r]))
    if writer.error is not None:
        raise writer.error
    if report.interrupted:
        raise KeyboardInterrupt
    db.checkpoint()
    return report


def _index_folder(
    folder: ScannedFolder,
    root_id: int,
    ix: _Indexer,
    writer: _Writer,
    rconn: sqlite3.Connection,
    report: IndexReport,
    library_empty: bool,
    reparse: bool,
) -> None:
    dir_text = encode_path(folder.path)[0]
    known: dict[str, tuple[int, int, int, str, int | None]] = {}
    if not library_empty:
        for fid, name, size, mtime_ns, status, pver in rconn.execute(
            "SELECT f.id, f.name, f.size, f.mtime_ns, f.status, p.parser_version FROM files f"
            f" LEFT JOIN parses p ON p.file_id = f.id WHERE {in_folder('f.path')}",
            folder_range(dir_text),
        ):
            if fid not in ix.claimed:
                known[name] = (fid, size, mtime_ns, status, pver)
    parts = [p for p in folder.path.split(os.sep) if p]
    folders = tuple(parts[-3:])
    video_stems: dict[str, str] | None = None
    touched = False
    report.seen += len(folder.files)
    for sf in folder.files:
        name_text = encode_path(sf.name)[0]
        hit = known.pop(name_text, None) if known else None
        if hit is not None:
            fid, size, mtime_ns, status, pver = hit
            same = size == sf.size and mtime_ns == sf.mtime_ns
            stale = reparse or pver is None or pver < PARSER_VERSION
            if same and not stale and status == "present":  # the common case on a re-index: nothing to do
                report.unchanged += 1
                touched = True
                continue
            row = FileRow("new", fid, sf.path, folder.path, root_id, sf, None, folders=folders)
            if status != "present":
                row.action = "restore"
                report.restored += 1
                ix.missing_now.discard(fid)
            elif not same:
                row.action = "changed"
                report.changed += 1
            else:
                row.action = "reparse"
                report.reparsed += 1
                report.unchanged += 1
        else:
            row = FileRow("new", None, sf.path, folder.path, root_id, sf, None, folders=folders)
        if sf.kind in ("subtitle", "audio"):  # only rows we write need their video
            if video_stems is None:
                video_stems = {stem(f.name): f.name for f in folder.files if f.kind == "video"}
            row.video_name = companion_video(sf.name, video_stems)
        if hit is not None:
            if same and not stale and row.action == "restore":
                row.parse = None
                writer.put(("rows", [row]))
                continue
            ix.queue_parse(row, writer)
            continue
        moved_from = None if library_empty else _find_move(rconn, sf, ix)
        if moved_from is not None:
            fid, old_name, pver = moved_from
            row.action, row.file_id = "moved", fid
            report.moved += 1
            if fid in ix.missing_now:
                ix.missing_now.discard(fid)
                report.missing -= 1
            if old_name == name_text and not reparse and pver is not None and pver >= PARSER_VERSION:
                writer.put(("rows", [row]))  # same name: the parse still holds
            else:
                ix.queue_parse(row, writer)
            continue
        report.new += 1
        ix.queue_parse(row, writer)
    if touched:
        writer.put(("touch", [dir_text]))
    # Rows of this folder that the disk no longer shows.
    gone = [v[0] for v in known.values() if v[3] == "present" and v[0] not in ix.claimed]
    if gone:
        ix.missing_now.update(gone)
        report.missing += len(gone)
        writer.put(("missing", gone))


def _find_move(
    rconn: sqlite3.Connection, sf: ScannedFile, ix: _Indexer
) -> tuple[int, str, int | None] | None:
    """A known row whose file now lives at this new path: same (dev, inode) and size, or same size and
    name, and its old path is gone from the disk."""
    queries: list[tuple[str, tuple[object, ...]]] = []
    if sf.inode:
        queries.append(
            (
                "SELECT f.id, f.name, f.path, f.path_raw, p.parser_version FROM files f"
                " LEFT JOIN parses p ON p.file_id=f.id WHERE f.dev=? AND f.inode=? AND f.size=?",
                (sf.dev, sf.inode, sf.size),
            )
        )
    queries.append(
        (
            "SELECT f.id, f.name, f.path, f.path_raw, p.parser_version FROM files f"
            " LEFT JOIN parses p ON p.file_id=f.id WHERE f.size=? AND f.name=?",
            (sf.size, encode_path(sf.name)[0]),
        )
    )
    for sql, args in queries:
        for fid, name, path, path_raw, pver in rconn.execute(sql, args):
            if fid in ix.claimed:
                continue
            old = decode_path(path, path_raw)
            if old == sf.path or os.path.lexists(old):
                continue
            ix.claimed.add(fid)
            return int(fid), str(name), pver
    return None
