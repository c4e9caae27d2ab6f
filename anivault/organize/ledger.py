"""The organize ledger: a write-ahead intent log in the library database.

Rules it keeps (RELIABILITY §3):
- The whole run is written as `pending` items in ONE transaction, committed with `synchronous=FULL`, before
  the first file is touched (intent before action, G3). So after any crash the ledger is a superset of what
  happened on disk.
- Items are marked done in batches (up to 25,000 per commit, never one commit per file); `files.path`
  follows every move in the same transaction. A crash between an action and its batch commit leaves the item
  `pending`, and recovery reads the disk to learn how far it got: every intermediate state is visible there
  (the deterministic temp name `.anivault-<op>-<seq>.part`, the source, the target), which is why the
  intermediate states need no commit of their own.

The ledger talks to SQLite through one raw connection: it needs `PRAGMA synchronous=FULL` on exactly the
connection that commits intents, and executemany over plain tuples is what keeps 100,000 items fast.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from anivault.errors import UsageError
from anivault.organize.fileops import Fingerprint, IntentRows, intent_rows
from anivault.organize.itemstate import item_counts, state_sql, undone_sql
from anivault.organize.plan import Step
from anivault.pathcodec import decode_path, encode_path

if TYPE_CHECKING:
    from anivault.db.engine import Database

CHUNK = 5000
RUN_CACHE_KIB = 65536  # SQLite page cache of a run's intent transaction (intent_tx) and of its batch writer


def now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def part_path(op_id: int, seq: int, dst: str) -> str:
    """The temp name a copy is written under, beside its target: derivable, so recovery can find it."""
    return os.path.join(os.path.dirname(dst), f".anivault-{op_id}-{seq}.part")


@dataclass(slots=True)
class LedgerItem:
    """A ledger row as a plain value (threads and the executor never see ORM objects)."""

    id: int
    op_id: int
    seq: int
    action: str
    src: str | None
    dst: str
    fp: Fingerprint | None
    hash: str | None
    file_id: int | None
    state: str
    note: str | None
    dst_dev: int | None
    dst_inode: int | None
    undo_of: int | None

    @property
    def part(self) -> str:
        return part_path(self.op_id, self.seq, self.dst)


@dataclass(slots=True)
class ItemResult:
    """What happened to one item; written back in batches."""

    item: LedgerItem
    state: str
    note: str | None = None
    dst: str | None = None  # when a rename-on-conflict chose another name
    action: str | None = None  # when a move had to keep its source (becomes a copy)
    dst_st: os.stat_result | None = None
    hash: str | None = None


@dataclass(slots=True)
class OperationRow:
    id: int
    kind: str
    status: str
    dest: str | None
    args: dict[str, Any]
    undo_of: int | None
    total: int
    created_at: str
    finished_at: str | None
    error: str | None
    counts: dict[str, int]


_STATE = state_sql("i")  # an item's state as reported, `undone` derived (itemstate.py)
_ITEM_COLS = (
    "id, op_id, seq, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, hash, file_id,"
    f" {_STATE}, note, dst_dev, dst_inode, undo_of"
)


def _row_to_item(r: Sequence[Any]) -> LedgerItem:
    fp = Fingerprint(r[8], r[9], r[10], r[11]) if r[8] is not None else None
    src = decode_path(r[4], r[5]) if r[4] is not None else None
    return LedgerItem(
        r[0],
        r[1],
        r[2],
        r[3],
        src,
        decode_path(r[6], r[7]),
        fp,
        r[12],
        r[13],
        r[14],
        r[15],
        r[16],
        r[17],
        r[18],
    )


def folder_len(path: str) -> int | None:
    """How many characters of ``path`` are its folder when the name follows one separator later (what
    `src_dir_len`/`dst_dir_len` hold, so a batch commit cuts `files.dir` and `files.name` without searching
    the text); None where that does not hold, and SQL searches instead: a file at a filesystem root, or a
    Windows path (drives and shares keep their separator)."""
    if os.sep != "/":
        return None
    cut = path.rfind("/")
    return cut if cut > 0 and path[cut - 1] != "/" else None


def intent_runs(
    steps: Sequence[Step], op_id: int, dest_dev: int | None, rows_of: IntentRows | None = None
) -> list[tuple[bool, list[tuple[Any, ...]]]]:
    """The rows of run ``op_id``'s intent, in seq order, in runs of one kind: plain (True) or not.

    Most items are same-device moves between ASCII paths: those go in with a statement that binds only the
    10 values they have (binding the rest as NULLs cost 40% more per row). ``rows_of`` is _lean.intent_rows
    (the rows of a run of plain items, built in C), where it is built; this loop is the reference."""
    runs: list[tuple[bool, list[tuple[Any, ...]]]] = []
    sep = "/" if os.sep == "/" else None  # folder_len, inline: the loop runs once per item
    if sep is None:
        rows_of = None
    todo = steps if isinstance(steps, list) else list(steps)
    i, n = 0, len(todo)
    while i < n:
        if rows_of is not None:
            rows, i = rows_of(todo, i, dest_dev)
            if rows:
                if runs and runs[-1][0]:
                    runs[-1][1].extend(rows)
                else:
                    runs.append((True, rows))
            if i >= n:
                break
        s = todo[i]
        i += 1
        fp = s.fp
        src = s.src
        dst = s.dst
        plain = (
            s.action == "move" and fp is not None and src is not None and s.undo_of is None
            and (dest_dev is None or fp.dev == dest_dev) and src.isascii() and dst.isascii()
        )  # fmt: skip
        if not runs or runs[-1][0] != plain:
            runs.append((plain, []))
        if plain:
            assert fp is not None and src is not None
            a = src.rfind(sep) if sep else -1
            b = dst.rfind(sep) if sep else -1
            runs[-1][1].append(
                (
                    s.seq, s.file_id, src, dst, *fp,  # size, mtime_ns, dev, inode
                    a if a > 0 and src[a - 1] != sep else None, b if b > 0 and dst[b - 1] != sep else None,
                )
            )  # fmt: skip
            continue
        src, src_raw = encode_path(src) if src is not None else (None, None)
        dst, dst_raw = encode_path(s.dst)
        tmp = None
        if s.action == "copy" or (
            s.action == "move"
            and fp is not None
            and dest_dev is not None
            and fp.dev != dest_dev
            and s.undo_of is None
        ):
            tmp = part_path(op_id, s.seq, dst)
        runs[-1][1].append(
            (
                s.seq, s.file_id, s.action, src, src_raw, dst, dst_raw, tmp,
                fp.size if fp else None, fp.mtime_ns if fp else None,
                fp.dev if fp else None, fp.inode if fp else None, s.undo_of,
                folder_len(src) if src is not None else None, folder_len(dst),
            )
        )  # fmt: skip
    return runs


_STEP_COLS = "seq, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, file_id, undo_of"


def _steps(rows: Iterable[Sequence[Any]]) -> list[Step]:
    """Steps from rows of _STEP_COLS (a raw column, set only for a path that is not UTF-8, wins)."""
    decode = os.fsdecode
    return [
        Step(
            seq, action, src if src_raw is None else decode(src_raw), dst if dst_raw is None else decode(dst_raw),
            None if size is None else Fingerprint(size, mtime_ns, dev, inode), file_id, "", undo_of,
        )
        for seq, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, file_id, undo_of in rows
    ]  # fmt: skip


def item_of_step(op_id: int, s: Step) -> LedgerItem:
    """The item of a run just written, without reading it back (it is exactly the step)."""
    return LedgerItem(0, op_id, s.seq, s.action, s.src, s.dst, s.fp, None, s.file_id, "pending", None, None, None, s.undo_of)  # fmt: skip


class StepStream:
    """A rollback's steps (the inverse of a run), read on a connection and thread of their own while the
    intent is written, and handed to the executor as they come: ``steps`` grows a chunk at a time in seq
    order, and the run starts as soon as the intent is committed and the first chunk is in (waiting for all
    of them held the first rename back by up to 0.19 s at 100,000 items, docs/organize-benchmark-log.md).

    The read must see the rows the intent's insert saw: it takes its snapshot while the intent's
    transaction holds the write lock, and the commit waits for that (hold_snapshot). A snapshot not taken in
    time makes the whole read unusable (create_rollback then returns no stream). A read that fails, or that
    meets a row out of seq order, stops where it is; ``steps`` then holds a prefix, and the executor reads the
    rest back from the ledger (remainder)."""

    SNAPSHOT_WAIT = 10.0  # seconds the intent's commit waits for the side read to take its snapshot
    FIRST = 256  # the first chunk: what the run needs to start
    CHUNK = 4096

    def __init__(self, db: Database, op_id: int, inverse: str) -> None:
        self._db = db
        # No ORDER BY of its own: the inverse's (the run's seq, descending) is the steps' order already, and
        # sorting again by the computed seq cost up to 0.2 s at 100,000 items. The reader checks the order.
        self._sql = f"SELECT {_STEP_COLS} FROM ({inverse})"
        self._op_id = op_id
        self.steps: list[Step] = []
        self.run_id = 0  # the rollback's run and its item count, set by create_rollback before it hands
        self.total = -1  # the stream on
        self._ended = False
        self._stop = False
        self._more = threading.Condition()
        self._snapshot = threading.Event()  # set once the read holds its snapshot (or gave up)
        self._usable = False  # the read took its snapshot
        self._late = False  # ... but not before the intent's commit
        self._thread = threading.Thread(target=self._read, name="ledger-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._db.raw_connect(readonly=True)
            # One statement is one read transaction: its snapshot is fixed by the first step, in execute().
            cur = conn.execute(self._sql, {"of": self._op_id})
            self._usable = True
            self._snapshot.set()
            size = self.FIRST
            last = -1
            while not self._stop:
                # Building each chunk's Steps releases Python's lock at every row SQLite finds.
                chunk = _steps(self._fetch(cur, size))
                if not chunk:
                    break
                if chunk[0].seq <= last or any(a.seq >= b.seq for a, b in pairwise(chunk)):
                    break  # SQLite kept no order from the subquery (it does today): the rest is read back
                last = chunk[-1].seq
                with self._more:
                    self.steps.extend(chunk)
                    self._more.notify_all()
                size = self.CHUNK
        except sqlite3.Error:
            pass
        finally:
            self._snapshot.set()  # also when the read failed: the commit need not wait for it
            with self._more:
                self._ended = True
                self._more.notify_all()
            if conn is not None:
                conn.close()

    @staticmethod
    def _fetch(cur: sqlite3.Cursor, size: int) -> list[Any]:
        return cur.fetchmany(size)  # (tests make it fail or disorder a chunk)

    def hold_snapshot(self) -> None:
        """Called inside the intent's transaction, before its commit: wait until the read has its snapshot
        (then no other writer can have committed since the transaction took the write lock)."""
        if not self._snapshot.wait(self.SNAPSHOT_WAIT):
            self._late = True  # the read may start after the commit: not used, whatever it returns

    @property
    def usable(self) -> bool:
        return self._usable and not self._late

    def wait(self, n: int) -> int:
        """Block until more than ``n`` steps are in, or the read has ended; returns how many are in."""
        with self._more:
            while len(self.steps) <= n and not self._ended:
                self._more.wait()
            return len(self.steps)

    def remainder(self, ledger: Ledger) -> list[Step]:
        """After the read ended short (it failed, met a row out of order, or found fewer than ``total``):
        the intent's pending items this stream did not deliver, read back from the ledger in seq order."""
        self.close()
        have = {s.seq for s in self.steps}
        return [s for s in ledger.pending_steps(self.run_id) if s.seq not in have]

    def close(self) -> None:
        """Stop reading (the run ended or failed) and wait for the thread."""
        self._stop = True
        self._thread.join()


def _run_pragmas(conn: sqlite3.Connection, cache_kib: int) -> tuple[int, int]:
    """Give the connection a run's settings; returns the (cache_size, temp_store) to put back with
    _restore_pragmas before it goes back to the pool (which frees the pages).

    The page cache: a run's rows and index entries can lie all over `files` and the intent's `file_id`
    index (see BatchWriter). Temporary data in memory: a statement that changes many rows inside a
    transaction keeps what it needs to undo itself alone (the `files` update also runs in a savepoint), and
    SQLite spills that to a temporary file past a small size. The batch writer's `files` update changes
    pages all over the table when ids follow the index's walk: it wrote about 1.5 KB of temporary file per
    moved file, and cost 14 µs a row against 11.5 µs with the data in memory (median of six interleaved runs
    of 15,000 rows). The memory is held for one statement: about 30 MB for a commit of 20,000 moves in that
    order."""
    cache = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    temp = int(conn.execute("PRAGMA temp_store").fetchone()[0])
    conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    conn.execute("PRAGMA temp_store=MEMORY")
    return cache, temp


def _restore_pragmas(conn: sqlite3.Connection, saved: tuple[int, int]) -> None:
    conn.execute(f"PRAGMA cache_size={saved[0]}")
    conn.execute(f"PRAGMA temp_store={saved[1]}")


class Ledger:
    """One connection to the ledger with synchronous=FULL for as long as it is open."""

    def __init__(
        self, db: Database, *, check_foreign_keys: bool = True, cache_kib: int | None = None
    ) -> None:
        """``check_foreign_keys=False`` is for the executor's batch writer only: its commits set no foreign
        key but `files.root_id`, which it reads from `roots` itself, and with enforcement on SQLite spent
        about 22 of the 29 µs each moved file's `files` update cost (scripts/bench_organize.py, 20k files).
        ``cache_kib`` gives the connection a run's settings until close (_run_pragmas; the batch writer's,
        see execute.py).
        """
        self.db = db
        self._raw = db.engine.raw_connection()
        self.conn = cast(sqlite3.Connection, self._raw.dbapi_connection)
        # FULL: an intent must survive power loss before the action it announces (G3). The connection's
        # defaults are restored on close so the pool does not hand FULL (or unchecked keys) to other users.
        self.conn.execute("PRAGMA synchronous=FULL")
        self._check_fk = check_foreign_keys
        if not check_foreign_keys:
            self.conn.execute("PRAGMA foreign_keys=OFF")
        # the pool's settings, put back on close
        self._saved = _run_pragmas(self.conn, cache_kib) if cache_kib is not None else None
        self._roots: list[tuple[int, str]] | None = None

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if not self._check_fk:
                self.conn.execute("PRAGMA foreign_keys=ON")
            if self._saved is not None:
                _restore_pragmas(self.conn, self._saved)
        finally:
            self._raw.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (one writer at a time; waits for busy_timeout rather than failing)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def intent_tx(self, *, keys_proven: bool = False) -> Iterator[sqlite3.Connection]:
        """The transaction that writes a run's intent. Its commit skips SQLite's automatic checkpoint: the
        intent is durable once the WAL is synced, and copying tens of megabytes of new pages into the
        database file is left to the batch writer's first commit, which runs beside the file operations
        instead of before the first one (0.15 s of 0.8 at 100,000 items, scripts/bench_organize.py).

        It has the batch writer's page cache while it runs: an item's `file_id` entry goes wherever the
        file's id falls, all over the index when ids follow the index's walk. With ``keys_proven`` (the
        caller checks, inside this transaction, that every key its rows hold exists) SQLite's own foreign
        key check is off: it looked up each item's `files` row by id, in the items' order, one random page
        read each (with the caller's check, 1.75 -> 1.38 s of CPU for 100,000 items in walk order)."""
        pages = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        saved = _run_pragmas(self.conn, RUN_CACHE_KIB)
        unchecked = keys_proven and self._check_fk
        if unchecked:
            self.conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before BEGIN
        try:
            with self.tx() as c:
                yield c
        finally:
            if unchecked:
                self.conn.execute("PRAGMA foreign_keys=ON")
            _restore_pragmas(self.conn, saved)
            self.conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    @staticmethod
    def _check_file_ids(c: sqlite3.Connection, steps: Sequence[Step]) -> None:
        """Every library id the items name is a `files` row (what the foreign key would check, in one
        statement that looks the ids up in order). A plan file can name a row the library no longer has."""
        ids = sorted({s.file_id for s in steps if s.file_id is not None})
        if not ids:
            return
        rows, first, last = c.execute(
            "SELECT (SELECT count(*) FROM files), (SELECT min(id) FROM files), (SELECT max(id) FROM files)"
        ).fetchone()
        if rows and first >= 1 and rows == last and ids[0] >= 1 and ids[-1] <= last:
            # The library's ids are exactly 1..last with no gap (AniVault never deletes a row), so every id
            # in that range exists: SQLite counts the rows from its smallest index's pages (under a
            # millisecond), where the search below parsed and looked up 100,000 ids (0.05-0.14 s).
            return
        known = c.execute(
            "SELECT count(*) FROM files WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        ).fetchone()[0]
        if known != len(ids):
            missing = [
                r[0]
                for r in c.execute(
                    "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM files) LIMIT 3",
                    (json.dumps(ids),),
                )
            ]
            raise UsageError(
                f"the plan names library file id(s) {', '.join(map(str, missing))} that the library no"
                " longer has; nothing was moved",
                hint="write the plan again (anivault organize --plan FILE)",
            )

    # --- writing -------------------------------------------------------------------------------------

    def create_operation(
        self,
        kind: str,
        dest: str | None,
        args: dict[str, Any],
        steps: Sequence[Step],
        *,
        dest_dev: int | None = None,
    ) -> int:
        """Write the run and all its items `pending`, durably, in one transaction. Returns the op id.
        (A rollback's run is written by create_rollback, from the ledger's own rows.)"""
        with self.intent_tx(keys_proven=True) as c:
            self._check_file_ids(c, steps)
            cur = c.execute(
                "INSERT INTO operations (kind, status, dest, args, total, created_at)"
                " VALUES (?, 'running', ?, ?, ?, ?)",
                (kind, dest, json.dumps(args, sort_keys=True), len(steps), now()),
            )
            op_id = int(cast(int, cur.lastrowid))
            runs = intent_runs(steps, op_id, dest_dev, intent_rows)
            for plain, rows in runs:
                if plain:
                    c.executemany(
                        "INSERT INTO operation_items (op_id, seq, file_id, action, src, dst, size, mtime_ns,"
                        f" dev, inode, src_dir_len, dst_dir_len, state) VALUES ({op_id}, ?, ?, 'move', ?, ?,"
                        " ?, ?, ?, ?, ?, ?, 'pending')",
                        rows,
                    )
                else:
                    c.executemany(
                        "INSERT INTO operation_items (op_id, seq, file_id, action, src, src_raw, dst, dst_raw,"
                        " tmp, size, mtime_ns, dev, inode, undo_of, src_dir_len, dst_dir_len, state)"
                        f" VALUES ({op_id}, ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'pending')",
                        rows,
                    )
        return op_id

    # The inverse of a run, newest item first: a move goes back, a copy, hardlink or symlink is removed, a
    # folder the run created (not one that "existed") is removed. A target is expected to be exactly what
    # the run left there: its size and mtime, and the device and inode recorded when it was placed.
    # Item k of the rollback undoes item (last seq + 1 - k) of the run: the order reversed without numbering
    # the rows afresh (row_number() sorted all of them, a third of the rollback's intent at 100k items), at
    # the price of gaps where the run has items with nothing to undo.
    _INVERSE = (
        "SELECT (SELECT max(seq) + 1 FROM operation_items WHERE op_id = :of) - seq AS seq,"
        " CASE WHEN action = 'move' THEN file_id END AS file_id,"
        " CASE action WHEN 'mkdir' THEN 'rmdir' WHEN 'move' THEN 'move' ELSE 'unlink' END AS action,"
        " CASE action WHEN 'mkdir' THEN NULL WHEN 'move' THEN dst ELSE src END AS src,"
        " CASE action WHEN 'mkdir' THEN NULL WHEN 'move' THEN dst_raw ELSE src_raw END AS src_raw,"
        " CASE action WHEN 'move' THEN src ELSE dst END AS dst,"
        " CASE action WHEN 'move' THEN src_raw ELSE dst_raw END AS dst_raw,"
        " CASE WHEN action IN ('mkdir', 'symlink') THEN NULL ELSE size END AS size,"
        " CASE WHEN action IN ('mkdir', 'symlink') THEN NULL ELSE mtime_ns END AS mtime_ns,"
        " CASE WHEN action IN ('mkdir', 'symlink') THEN NULL ELSE COALESCE(NULLIF(dst_dev, 0), dev) END AS dev,"
        " CASE WHEN action IN ('mkdir', 'symlink') THEN NULL ELSE COALESCE(NULLIF(dst_inode, 0), inode) END"
        " AS inode,"
        " id AS undo_of,"
        " CASE action WHEN 'mkdir' THEN NULL WHEN 'move' THEN dst_dir_len ELSE src_dir_len END AS src_dir_len,"
        " CASE action WHEN 'move' THEN src_dir_len ELSE dst_dir_len END AS dst_dir_len"
        " FROM operation_items WHERE op_id = :of AND state = 'done'"
        " AND NOT (action = 'mkdir' AND note IS 'existed'){again} ORDER BY operation_items.seq DESC"
    )
    # ... once the run has a rollback: without the items one of its rollbacks reversed (itemstate.py).
    _AGAIN = f" AND NOT {undone_sql('operation_items')}"

    def _inverse(self, op_id: int) -> str:
        """_INVERSE for run ``op_id``: the search for items already undone costs only a run that has had a
        rollback (an index search for each of 100,000 rows otherwise)."""
        again = self.conn.execute("SELECT 1 FROM operations WHERE undo_of=? LIMIT 1", (op_id,)).fetchone()
        return self._INVERSE.format(again=self._AGAIN if again else "")

    def inverse_steps(self, op_id: int) -> list[Step]:
        """What rolling back run ``op_id`` would do (for --dry-run): the rows create_rollback writes."""
        return _steps(
            self.conn.execute(
                f"SELECT {_STEP_COLS} FROM ({self._inverse(op_id)}) ORDER BY seq", {"of": op_id}
            ).fetchall()
        )

    def create_rollback(self, op_id: int) -> tuple[int, StepStream | None] | None:
        """Write the rollback of run ``op_id`` with all its items `pending`, durably, in one transaction,
        straight from the run's own rows (nothing passes through Python per item). None: nothing to undo.

        Returns the new run's id and, where the database is in WAL mode, a StepStream: its items as Steps,
        read by a second connection while the intent is written and while the run goes on. The insert is
        one SQLite statement that runs without Python's lock, so building Steps beside it costs the run
        little (read after it, they were 0.3 s before the first rename, scripts/bench_organize.py). The
        side read starts once this transaction holds the write lock and its snapshot is taken before the
        commit, so no other writer can commit in between: both read the same rows of run ``op_id``. A read
        that took its snapshot too late is not used (None: the executor reads the items back). Taking them
        from the insert with RETURNING was slower still: 0.7 s."""
        reader: StepStream | None = None
        handed = False
        try:
            # The keys are the run's own: the `files` ids its items hold, read in this transaction (a deleted
            # `files` row has already set its items' ids to NULL), and the new operation's id.
            with self.intent_tx(keys_proven=True) as c:
                inverse = self._inverse(op_id)
                if self.db.journal_mode == "wal":
                    reader = StepStream(self.db, op_id, inverse)
                cur = c.execute(
                    "INSERT INTO operations (kind, status, dest, args, undo_of, total, created_at)"
                    " VALUES ('rollback', 'running', NULL, ?, ?, 0, ?)",
                    (json.dumps({"of": op_id}, sort_keys=True), op_id, now()),
                )
                new_id = int(cast(int, cur.lastrowid))
                cur = c.execute(
                    "INSERT INTO operation_items (op_id, seq, file_id, action, src, src_raw, dst, dst_raw,"
                    " size, mtime_ns, dev, inode, undo_of, src_dir_len, dst_dir_len, state) SELECT :new, seq,"
                    " file_id, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, undo_of,"
                    f" src_dir_len, dst_dir_len, 'pending' FROM ({inverse})",
                    {"of": op_id, "new": new_id},
                )
                total = cur.rowcount
                if total <= 0:
                    c.execute("DELETE FROM operations WHERE id=?", (new_id,))
                    return None
                c.execute("UPDATE operations SET total=? WHERE id=?", (total, new_id))
                if reader is not None:
                    reader.hold_snapshot()  # taken before this commit, or the side read is not used
            if reader is not None and reader.usable:
                reader.run_id, reader.total = new_id, total
                handed = True
                return new_id, reader
            return new_id, None
        finally:
            if reader is not None and not handed:
                reader.close()  # not handed on: stop it and wait for its thread

    def record(self, results: Sequence[ItemResult], plain: Sequence[tuple[int, int, int]] = ()) -> None:
        """Commit a batch of outcomes (record_into, in a transaction of its own)."""
        if results or plain:
            with self.tx() as c:
                self.record_into(c, results, plain)

    def record_into(
        self, c: sqlite3.Connection, results: Sequence[ItemResult], plain: Sequence[tuple[int, int, int]] = ()
    ) -> None:
        """Write a batch of outcomes into the caller's open transaction; moved files' `files.path` follows
        in the same transaction.

        ``plain`` are (op_id, first seq, last seq) runs of items the caller already knows were done exactly
        as planned (the executor's lean moves), so no per-item object reaches this function for them. The
        per-file work (`files` rows, the items a rollback undid) is done by set-based statements over the
        batch's seq range, inside SQLite: the batch writer thread then holds Python's lock only between
        statements, and the executor's file operations run undisturbed beside it.
        """
        if not results and not plain:
            return
        stamp = now()
        item_rows = []
        plain_ranges: list[list[Any]] = [[stamp, op, lo, hi] for op, lo, hi in plain]
        spans: dict[int, list[int]] = {}  # op_id -> [lowest seq, highest seq] of the batch
        for op, lo, hi in plain:
            span = spans.setdefault(op, [lo, hi])
            span[0], span[1] = min(span[0], lo), max(span[1], hi)
        prev_plain = False
        for r in results:
            st = r.dst_st
            fp = r.item.fp
            seq, op = r.item.seq, r.item.op_id
            span = spans.setdefault(op, [seq, seq])
            span[0], span[1] = min(span[0], seq), max(span[1], seq)
            # Most outcomes are "done, as planned" (a rename keeps the inode the plan recorded): those are
            # marked with one range UPDATE per run of them instead of one UPDATE per item.
            is_plain = (
                r.state == "done" and r.note is None and r.dst is None and r.action is None and r.hash is None
                and (st is None or (fp is not None and st.st_ino == fp.inode and st.st_dev == fp.dev))
            )  # fmt: skip
            if is_plain:
                if prev_plain and plain_ranges[-1][1] == op:
                    plain_ranges[-1][3] = seq
                else:
                    plain_ranges.append([stamp, op, seq, seq])
            prev_plain = is_plain
            if not is_plain:
                dst_text, dst_raw = encode_path(r.dst) if r.dst is not None else (None, None)
                item_rows.append(
                    (
                        r.state, r.note, st.st_dev if st else None, st.st_ino if st else None, r.hash,
                        dst_text, dst_text is not None, dst_raw,
                        dst_text is not None, folder_len(dst_text) if dst_text is not None else None,
                        r.action, stamp, op, seq,
                    )
                )  # fmt: skip
        if plain_ranges:
            # `state='pending'` guards items a resumed run finished earlier inside the same seq range.
            c.executemany(
                "UPDATE operation_items SET state='done', finished_at=?"
                " WHERE op_id=? AND seq BETWEEN ? AND ? AND state='pending'",
                plain_ranges,
            )
        c.executemany(
            "UPDATE operation_items SET state=?, note=?, dst_dev=COALESCE(?, dst_dev),"
            " dst_inode=COALESCE(?, dst_inode), hash=COALESCE(?, hash), dst=COALESCE(?, dst),"
            " dst_raw=CASE WHEN ? THEN ? ELSE dst_raw END, dst_dir_len=CASE WHEN ? THEN ? ELSE dst_dir_len END,"
            " action=COALESCE(?, action),"
            " finished_at=? WHERE op_id=? AND seq=?",
            item_rows,
        )
        for op, (lo, hi) in spans.items():
            # (The originals a rollback's done items reversed are `undone` without a write: itemstate.py.)
            self._follow_moves(c, op, lo, hi)

    # `files.dir`/`files.name` of a ledger path, in SQL: os.path.dirname and basename of the normalised
    # absolute paths the ledger holds (tests/test_organize_lean.py checks them against posixpath and ntpath).
    # rtrim(p, <every character of p but the separator>) leaves "<folder><sep>"; trying the characters of
    # the last 64 first keeps that cheap, and stopping at a separator proves that set was enough.
    _FOLDER_SEP = (
        "(SELECT CASE WHEN substr(d1, -1) = :sep THEN d1 ELSE rtrim({p}, replace({p}, :sep, '')) END"
        " FROM (SELECT rtrim({p}, replace(substr({p}, -64), :sep, '')) AS d1))"
    )
    # "<folder><sep>" -> the folder, except where the separator belongs to a root: "/", a drive ("C:" plus
    # the separator) or a UNC share (two separators, server, separator, share, separator).
    _DIRNAME = (
        "(CASE WHEN rtrim({d}, :sep) = '' OR substr(rtrim({d}, :sep), -1) = ':'"
        " OR (:sep = '\\' AND substr({d}, 1, 2) = '\\\\'"
        " AND length(rtrim({d}, :sep)) - length(replace(rtrim({d}, :sep), :sep, '')) = 3)"
        " THEN {d} ELSE rtrim({d}, :sep) END)"
    )

    @classmethod
    def sql_split(cls, rows: str, path: str = "dst", dir_len: str | None = None) -> str:
        """A FROM-clause source: the rows of subquery ``rows`` with `dir` and `name` of column ``path``
        added. With ``dir_len``, the column holding the folder's length (folder_len): the two are cut
        there, and the text is searched only where it is NULL. The statement needs a `:sep` parameter."""
        folder = cls._FOLDER_SEP.format(p=f"x.{path}")
        if dir_len is not None:
            # CASE evaluates only the branch it takes: the search costs nothing where the length is known.
            cut = f"x.{dir_len}"
            return (
                f"(SELECT x.*, CASE WHEN {cut} IS NULL THEN {cls._DIRNAME.format(d=folder)}"
                f" ELSE substr(x.{path}, 1, {cut}) END AS dir,"
                f" CASE WHEN {cut} IS NULL THEN substr(x.{path}, length({folder}) + 1)"
                f" ELSE substr(x.{path}, {cut} + 2) END AS name FROM ({rows}) AS x)"
            )
        return (
            f"(SELECT y.*, {cls._DIRNAME.format(d='y.folder_sep')} AS dir,"
            f" substr(y.{path}, length(y.folder_sep) + 1) AS name"
            # LIMIT -1 keeps SQLite from flattening the subquery, which would compute the folder 5 times.
            f" FROM (SELECT x.*, {folder} AS folder_sep FROM ({rows}) AS x LIMIT -1) AS y)"
        )

    def sql_root_of(self, path: str) -> tuple[str, dict[str, Any]]:
        """A CASE expression for the indexed root that holds the text of column ``path`` (the longest
        first, as root_id_for decides), with its parameters: a few comparisons a row where a correlated
        query over `roots` cost a microsecond and a half (scripts/bench_organize.py)."""
        sep = os.sep
        whens: list[str] = []
        params: dict[str, Any] = {}
        deepest_first = sorted(self._root_list(), key=lambda r: len(r[1].rstrip(sep)), reverse=True)
        for k, (rid, rpath) in enumerate(deepest_first):
            rp = rpath.rstrip(sep)
            params.update(
                {f"root{k}": rp, f"root{k}_": rp + sep, f"root{k}n": len(rp) + 1, f"root{k}id": rid}
            )
            whens.append(
                f" WHEN {path} = :root{k} OR substr({path}, 1, :root{k}n) = :root{k}_ THEN :root{k}id"
            )
        return (f"(CASE{''.join(whens)} END)" if whens else "NULL"), params

    def _follow_moves(self, c: sqlite3.Connection, op_id: int, lo: int, hi: int) -> None:
        """`files` rows of the files this batch moved take their new path (the last move of each wins)."""
        root_of, params = self.sql_root_of("m.dst")
        params.update({"op": op_id, "lo": lo, "hi": hi, "sep": os.sep})
        # Each file's last move in the batch (a bare column beside max() comes from that row).
        moves = (
            "SELECT file_id, dst, dst_raw, dst_dir_len, max(seq) AS last FROM operation_items"
            " WHERE op_id = :op AND file_id IS NOT NULL AND state='done' AND action='move'"
            " AND seq BETWEEN :lo AND :hi GROUP BY file_id"
        )
        source = self.sql_split(moves, dir_len="dst_dir_len")
        try:
            c.execute("SAVEPOINT paths")
            # One join from the batch's moves to `files` by primary key: cheaper than looking up each
            # file's items by its index and sorting them.
            c.execute(
                "UPDATE files SET (path, path_raw, dir, name, root_id, status) ="
                f" (m.dst, m.dst_raw, m.dir, m.name, {root_of}, 'present')"
                f" FROM {source} AS m WHERE files.id = m.file_id",
                params,
            )
            c.execute("RELEASE paths")
        except sqlite3.IntegrityError:
            # Two of the batch's files traded names (a swap), or a stale row (a file gone from disk) still
            # holds a new path: one file at a time in the order they moved, a stale row keeping its history
            # under a marked path.
            c.execute("ROLLBACK TO paths")
            c.execute("RELEASE paths")
            rows = c.execute(
                f"SELECT m.file_id, m.dst, m.dst_raw, m.dir, m.name FROM {source} AS m ORDER BY m.last",
                params,
            ).fetchall()
            for fid, text, raw, folder, name in rows:
                c.execute(
                    "UPDATE files SET path = path || ' (gone #' || id || ')' WHERE path=? AND id<>?",
                    (text, fid),
                )
                c.execute(
                    "UPDATE files SET path=?, path_raw=?, dir=?, name=?, root_id=?, status='present'"
                    " WHERE id=?",
                    (text, raw, folder, name, self.root_id_for(text), fid),
                )

    def set_status(self, op_id: int, status: str, error: str | None = None, *, finished: bool = True) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE operations SET status=?, error=?, finished_at=? WHERE id=?",
                (status, error, now() if finished else None, op_id),
            )

    def mark_pending(self, op_id: int, state: str, note: str) -> int:
        """Close every still-pending item of a run (a stopped run: nothing happened to them)."""
        with self.tx() as c:
            cur = c.execute(
                "UPDATE operation_items INDEXED BY uq_operation_items_op_id_seq SET state=?, note=?, finished_at=?"
                " WHERE op_id=? AND state='pending'",
                (state, note, now(), op_id),
            )
            return cur.rowcount

    def reopen(self, op_id: int) -> None:
        """--resume: aborted and failed items become pending again (re-recorded durably before acting)."""
        with self.tx() as c:
            c.execute(
                "UPDATE operation_items INDEXED BY uq_operation_items_op_id_seq SET state='pending', note=NULL"
                " WHERE op_id=? AND state IN ('aborted', 'failed')",
                (op_id,),
            )
            c.execute("UPDATE operations SET status='running', finished_at=NULL WHERE id=?", (op_id,))

    # --- reading -------------------------------------------------------------------------------------

    def items(
        self, op_id: int, states: Sequence[str] | None = None, *, reverse: bool = False
    ) -> Iterator[LedgerItem]:
        """Stream a run's items in seq order (or reversed), a chunk at a time (memory stays flat)."""
        last = -1 if not reverse else 1 << 62
        cmp, order = (">", "ASC") if not reverse else ("<", "DESC")
        where = ""
        params: list[Any] = []
        if states:
            where = f" AND {_STATE} IN ({','.join('?' * len(states))})"
            params = list(states)
        while True:
            rows = self.conn.execute(
                f"SELECT {_ITEM_COLS} FROM operation_items i WHERE op_id=? AND seq {cmp} ?{where}"
                f" ORDER BY seq {order} LIMIT {CHUNK}",
                [op_id, last, *params],
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _row_to_item(r)
            last = rows[-1][2]

    def pending_steps(self, op_id: int) -> Iterator[Step]:
        """A run's pending items as the steps the executor carries out, in seq order, a chunk at a time:
        only the columns it reads (full LedgerItems cost half as much again, scripts/bench_organize.py)."""
        last = -1
        while True:
            rows = self.conn.execute(
                f"SELECT {_STEP_COLS} FROM operation_items WHERE op_id=? AND seq > ? AND state='pending'"
                f" ORDER BY seq LIMIT {CHUNK}",
                (op_id, last),
            ).fetchall()
            if not rows:
                return
            yield from _steps(rows)
            last = rows[-1][0]

    def operation(self, op_id: int, *, counts: bool = True) -> OperationRow | None:
        """Run ``op_id``; ``counts=False`` leaves `counts` empty (counting reads every item of the run)."""
        rows = self._operations("WHERE id=?", (op_id,), counts=counts)
        return rows[0] if rows else None

    def counts(self, op_id: int) -> dict[str, int]:
        """How many items of run ``op_id`` are in each state (`undone` derived, itemstate.py)."""
        return item_counts(self.conn, op_id)

    def operations(
        self, *, statuses: Sequence[str] | None = None, kind: str | None = None
    ) -> list[OperationRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if kind:
            clauses.append("kind=?")
            params.append(kind)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._operations(where, tuple(params))

    def _operations(self, where: str, params: tuple[Any, ...], *, counts: bool = True) -> list[OperationRow]:
        ops = self.conn.execute(
            "SELECT id, kind, status, dest, args, undo_of, total, created_at, finished_at, error"
            f" FROM operations {where} ORDER BY id",
            params,
        ).fetchall()
        return [
            OperationRow(
                o[0], o[1], o[2], o[3], json.loads(o[4] or "{}"), o[5], o[6], str(o[7]),
                str(o[8]) if o[8] else None, o[9], self.counts(o[0]) if counts else {},
            )
            for o in ops
        ]  # fmt: skip

    def rollback_of(self, op_id: int) -> OperationRow | None:
        ops = self._operations("WHERE kind='rollback' AND undo_of=?", (op_id,))
        return ops[-1] if ops else None

    def _root_list(self) -> list[tuple[int, str]]:
        """The indexed roots (id, path), read once per Ledger (a run holds the writer lock throughout)."""
        if self._roots is None:
            self._roots = [(int(r[0]), str(r[1])) for r in self.conn.execute("SELECT id, path FROM roots")]
        return self._roots

    def root_id_for(self, path: str) -> int | None:
        """The indexed root that contains ``path`` (so `files.root_id` stays true after a move), if any."""
        best: tuple[int, int] | None = None
        for rid, rpath in self._root_list():
            rp = rpath.rstrip(os.sep)
            if (path == rp or path.startswith(rp + os.sep)) and (best is None or len(rp) > best[1]):
                best = (int(rid), len(rp))
        return best[0] if best else None
