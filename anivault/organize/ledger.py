"""The organize ledger: a write-ahead intent log in the library database.

Rules it keeps (RELIABILITY §3):
- The whole run is written as `pending` items in ONE transaction, committed with `synchronous=FULL`, before
  the first file is touched (intent before action, G3). So after any crash the ledger is a superset of what
  happened on disk.
- Items are marked done in batches (hundreds per commit, never one commit per file); `files.path` follows
  every move in the same transaction. A crash between an action and its batch commit leaves the item
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import Step
from anivault.pathcodec import decode_path, encode_path

if TYPE_CHECKING:
    from anivault.db.engine import Database

CHUNK = 5000


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


_ITEM_COLS = (
    "id, op_id, seq, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, hash, file_id, state,"
    " note, dst_dev, dst_inode, undo_of"
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


def items_from_steps(op_id: int, steps: Sequence[Step]) -> Iterator[LedgerItem]:
    """The items of a run just written, without reading them back (they are exactly the steps)."""
    for s in steps:
        yield LedgerItem(
            0,
            op_id,
            s.seq,
            s.action,
            s.src,
            s.dst,
            s.fp,
            None,
            s.file_id,
            "pending",
            None,
            None,
            None,
            s.undo_of,
        )


class Ledger:
    """One connection to the ledger with synchronous=FULL for as long as it is open."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._raw = db.engine.raw_connection()
        self.conn = cast(sqlite3.Connection, self._raw.dbapi_connection)
        # FULL: an intent must survive power loss before the action it announces (G3). The connection's
        # default NORMAL is restored on close so the pool does not hand FULL to unrelated writers.
        self.conn.execute("PRAGMA synchronous=FULL")
        self._roots: list[tuple[int, str]] | None = None

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA synchronous=NORMAL")
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

    # --- writing -------------------------------------------------------------------------------------

    def create_operation(
        self,
        kind: str,
        dest: str | None,
        args: dict[str, Any],
        steps: Sequence[Step],
        *,
        undo_of: int | None = None,
        copy_devs: frozenset[int] = frozenset(),
        dest_dev: int | None = None,
    ) -> int:
        """Write the run and all its items `pending`, durably, in one transaction. Returns the op id."""
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO operations (kind, status, dest, args, undo_of, total, created_at)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (kind, dest, json.dumps(args, sort_keys=True), undo_of, len(steps), now()),
            )
            op_id = int(cast(int, cur.lastrowid))
            rows = []
            for s in steps:
                src, src_raw = encode_path(s.src) if s.src is not None else (None, None)
                dst, dst_raw = encode_path(s.dst)
                fp = s.fp
                tmp = None
                if s.action == "copy" or (
                    s.action == "move"
                    and fp is not None
                    and dest_dev is not None
                    and fp.dev != dest_dev
                    and s.undo_of is None
                ):
                    tmp = part_path(op_id, s.seq, dst)
                rows.append(
                    (
                        op_id, s.seq, s.file_id, s.action, src, src_raw, dst, dst_raw, tmp,
                        fp.size if fp else None, fp.mtime_ns if fp else None,
                        fp.dev if fp else None, fp.inode if fp else None, s.undo_of,
                    )
                )  # fmt: skip
            c.executemany(
                "INSERT INTO operation_items (op_id, seq, file_id, action, src, src_raw, dst, dst_raw, tmp,"
                " size, mtime_ns, dev, inode, undo_of, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'pending')",
                rows,
            )
        return op_id

    def record(self, results: Sequence[ItemResult]) -> None:
        """Commit a batch of outcomes; moved files' `files.path` follows in the same transaction."""
        if not results:
            return
        stamp = now()
        item_rows = []
        plain_ranges: list[list[Any]] = []  # [stamp, op_id, first seq, last seq]
        file_rows = []
        undone: list[list[Any]] = []  # [stamp, lowest id, highest id]
        prev_plain = False
        for r in results:
            st = r.dst_st
            fp = r.item.fp
            # Most outcomes are "done, as planned" (a rename keeps the inode the plan recorded): those are
            # marked with one range UPDATE per run of them instead of one UPDATE per item.
            plain = (
                r.state == "done" and r.note is None and r.dst is None and r.action is None and r.hash is None
                and (st is None or (fp is not None and st.st_ino == fp.inode and st.st_dev == fp.dev))
            )  # fmt: skip
            if plain:
                if prev_plain:
                    plain_ranges[-1][3] = r.item.seq
                else:
                    plain_ranges.append([stamp, r.item.op_id, r.item.seq, r.item.seq])
            prev_plain = plain
            dst_text, dst_raw = encode_path(r.dst) if r.dst is not None else (None, None)
            if not plain:
                item_rows.append(
                (
                    r.state, r.note, st.st_dev if st else None, st.st_ino if st else None, r.hash,
                    dst_text, dst_text is not None, dst_raw, r.action, stamp, r.item.op_id, r.item.seq,
                    )
                )  # fmt: skip
            if r.state == "done" and r.item.file_id is not None and (r.action or r.item.action) == "move":
                final = r.dst if r.dst is not None else r.item.dst
                text, raw = encode_path(final)
                file_rows.append(
                    (
                        text,
                        raw,
                        os.path.dirname(text),
                        os.path.basename(text),
                        self.root_id_for(text),
                        r.item.file_id,
                    )
                )
            if r.state == "done" and r.item.undo_of is not None:
                # Rollback walks the original newest first, so its undo_of ids usually descend one by one:
                # one range UPDATE covers a run of them (only ids that are part of the run, never a gap).
                uid = r.item.undo_of
                if undone and undone[-1][1] == uid + 1:
                    undone[-1][1] = uid
                else:
                    undone.append([stamp, uid, uid])
        with self.tx() as c:
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
                " dst_raw=CASE WHEN ? THEN ? ELSE dst_raw END, action=COALESCE(?, action),"
                " finished_at=? WHERE op_id=? AND seq=?",
                item_rows,
            )
            if undone:
                c.executemany(
                    "UPDATE operation_items SET state='undone', finished_at=? WHERE id BETWEEN ? AND ?",
                    undone,
                )
            if file_rows:
                try:
                    c.execute("SAVEPOINT paths")
                    c.executemany(
                        "UPDATE files SET path=?, path_raw=?, dir=?, name=?, root_id=?, status='present' WHERE id=?",
                        file_rows,
                    )
                    c.execute("RELEASE paths")
                except sqlite3.IntegrityError:
                    c.execute("ROLLBACK TO paths")
                    c.execute("RELEASE paths")
                    self._update_paths_slow(c, file_rows)

    @staticmethod
    def _update_paths_slow(c: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        # A stale row (a file that is gone from disk) still holds the new path: it keeps its history under a
        # marked path, and the moved file takes the real one.
        for text, raw, folder, name, root_id, fid in rows:
            c.execute(
                "UPDATE files SET path = path || ' (gone #' || id || ')' WHERE path=? AND id<>?", (text, fid)
            )
            c.execute(
                "UPDATE files SET path=?, path_raw=?, dir=?, name=?, root_id=?, status='present' WHERE id=?",
                (text, raw, folder, name, root_id, fid),
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
                "UPDATE operation_items SET state=?, note=?, finished_at=? WHERE op_id=? AND state='pending'",
                (state, note, now(), op_id),
            )
            return cur.rowcount

    def reopen(self, op_id: int) -> None:
        """--resume: aborted and failed items become pending again (re-recorded durably before acting)."""
        with self.tx() as c:
            c.execute(
                "UPDATE operation_items SET state='pending', note=NULL WHERE op_id=? AND state IN ('aborted', 'failed')",
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
            where = f" AND state IN ({','.join('?' * len(states))})"
            params = list(states)
        while True:
            rows = self.conn.execute(
                f"SELECT {_ITEM_COLS} FROM operation_items WHERE op_id=? AND seq {cmp} ?{where}"
                f" ORDER BY seq {order} LIMIT {CHUNK}",
                [op_id, last, *params],
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _row_to_item(r)
            last = rows[-1][2]

    def operation(self, op_id: int) -> OperationRow | None:
        rows = self._operations("WHERE id=?", (op_id,))
        return rows[0] if rows else None

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

    def _operations(self, where: str, params: tuple[Any, ...]) -> list[OperationRow]:
        ops = self.conn.execute(
            "SELECT id, kind, status, dest, args, undo_of, total, created_at, finished_at, error"
            f" FROM operations {where} ORDER BY id",
            params,
        ).fetchall()
        out = []
        for o in ops:
            counts = dict(
                self.conn.execute(
                    "SELECT state, count(*) FROM operation_items WHERE op_id=? GROUP BY state", (o[0],)
                ).fetchall()
            )
            out.append(
                OperationRow(
                    o[0], o[1], o[2], o[3], json.loads(o[4] or "{}"), o[5], o[6], str(o[7]),
                    str(o[8]) if o[8] else None, o[9], counts,
                )
            )  # fmt: skip
        return out

    def rollback_of(self, op_id: int) -> OperationRow | None:
        ops = self._operations("WHERE kind='rollback' AND undo_of=?", (op_id,))
        return ops[-1] if ops else None

    def root_id_for(self, path: str) -> int | None:
        """The indexed root that contains ``path`` (so `files.root_id` stays true after a move), if any."""
        if self._roots is None:
            self._roots = [(int(r[0]), str(r[1])) for r in self.conn.execute("SELECT id, path FROM roots")]
        best: tuple[int, int] | None = None
        for rid, rpath in self._roots:
            rp = rpath.rstrip(os.sep)
            if (path == rp or path.startswith(rp + os.sep)) and (best is None or len(rp) > best[1]):
                best = (int(rid), len(rp))
        return best[0] if best else None
