"""The organize ledger: a write-ahead intent log in the library database.

Rules it keeps (RELIABILITY §3):
- The whole run is written as `pending` items in ONE transaction, committed with `synchronous=FULL`, before
  the first file is touched (intent before action, G3). After any crash the ledger is a superset of what
  happened on disk.
- Outcomes are committed in batches, never one commit per file, each after the folders its items touched
  were made durable; `files.path` follows every move in the same transaction, and an organize item a
  rollback reversed becomes `undone` in the rollback's transaction. A crash between an action and its
  batch commit leaves the item `pending`, and recovery reads the disk to learn how far it got: every
  intermediate state is visible there (the temp name `.anivault-<op>-<seq>.part`, the source, the target).

The ledger talks to SQLite through one raw connection: it needs `PRAGMA synchronous=FULL` on exactly the
connection that commits intents.
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

from anivault.db.status import item_counts
from anivault.errors import UsageError
from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import Step
from anivault.pathcodec import decode_path, encode_path

if TYPE_CHECKING:
    from anivault.db.engine import Database

CHUNK = 5000  # items read back at a time (memory stays flat)


def now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def part_path(op_id: int, seq: int, dst: str) -> str:
    """The temp name a copy is written under, beside its target: derivable, so recovery can find it."""
    return os.path.join(os.path.dirname(dst), f".anivault-{op_id}-{seq}.part")


@dataclass(slots=True)
class LedgerItem:
    """A ledger row as a plain value (the executor and recovery never see ORM objects)."""

    op_id: int
    seq: int
    action: str
    src: str | None
    dst: str
    fp: Fingerprint | None
    file_id: int | None = None
    state: str = "pending"
    note: str | None = None
    undo_of: int | None = None  # the organize item (id) a rollback item reverses

    @property
    def part(self) -> str:
        return part_path(self.op_id, self.seq, self.dst)

    @classmethod
    def of_step(cls, op_id: int, s: Step) -> LedgerItem:
        return cls(op_id, s.seq, s.action, s.src, s.dst, s.fp, s.file_id, undo_of=s.undo_of)


@dataclass(slots=True)
class ItemResult:
    """What happened to one item; written back in batches."""

    item: LedgerItem
    state: str
    note: str | None = None
    dst: str | None = None  # when a rename-on-conflict chose another name
    action: str | None = None  # when a move had to keep its source (it became a copy or a link)
    placed: tuple[int, int] | None = None  # (device, inode) of the placed file, for rollback's check
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


_ITEM_COLS = "op_id, seq, action, src, src_raw, dst, dst_raw, size, mtime_ns, dev, inode, file_id, state, note, undo_of"


def _item(r: Sequence[Any]) -> LedgerItem:
    fp = Fingerprint(r[7], r[8], r[9], r[10]) if r[7] is not None else None
    src = decode_path(r[3], r[4]) if r[3] is not None else None
    return LedgerItem(r[0], r[1], r[2], src, decode_path(r[5], r[6]), fp, r[11], r[12], r[13], r[14])


class Ledger:
    """One connection to the ledger; intents are committed with synchronous=FULL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._raw = db.engine.raw_connection()
        self.conn = cast(sqlite3.Connection, self._raw.dbapi_connection)
        self._roots: list[tuple[int, str]] | None = None

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (one writer at a time; waits for busy_timeout rather than failing).
        ``durable``: the commit survives power loss (an intent must, before the action it announces)."""
        if durable:
            self.conn.execute("PRAGMA synchronous=FULL")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            if durable:
                self.conn.execute("PRAGMA synchronous=NORMAL")

    # --- writing -------------------------------------------------------------------------------------

    def create_operation(
        self,
        kind: str,
        dest: str | None,
        args: dict[str, Any],
        steps: Sequence[Step],
        *,
        undo_of: int | None = None,
    ) -> int:
        """Write the run and all its items `pending`, durably, in one transaction. Returns the run's id."""
        with self.tx(durable=True) as c:
            _check_file_ids(c, steps)
            cur = c.execute(
                "INSERT INTO operations (kind, status, dest, args, undo_of, total, created_at)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (kind, dest, json.dumps(args, sort_keys=True), undo_of, len(steps), now()),
            )
            op_id = int(cast(int, cur.lastrowid))
            c.executemany(
                "INSERT INTO operation_items (op_id, seq, file_id, action, src, src_raw, dst, dst_raw, tmp,"
                " size, mtime_ns, dev, inode, undo_of, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'pending')",
                (_intent_row(op_id, s) for s in steps),
            )
        return op_id

    def record(self, results: Sequence[ItemResult]) -> None:
        """Commit a batch of outcomes in a transaction of its own."""
        if results:
            with self.tx() as c:
                self.record_into(c, results)

    def record_into(self, c: sqlite3.Connection, results: Sequence[ItemResult]) -> None:
        """Write a batch of outcomes into the caller's open transaction: the items' states, `files.path`
        of every file that moved, and `undone` for the organize items a rollback reversed."""
        stamp = now()
        rows = []
        spans: list[list[Any]] = []  # [stamp, op, first seq, last seq] of items done exactly as planned
        moved = []
        undone = []
        for r in results:
            it, placed = r.item, r.placed
            fp = it.fp
            as_planned = (
                r.state == "done" and r.note is None and r.dst is None and r.action is None and r.hash is None
                and (placed is None or (fp is not None and placed == (fp.dev, fp.inode)))
            )  # fmt: skip
            if as_planned:
                # Most items: one range UPDATE marks a whole run of them (their row needs nothing else).
                if spans and spans[-1][1] == it.op_id and spans[-1][3] == it.seq - 1:
                    spans[-1][3] = it.seq
                else:
                    spans.append([stamp, it.op_id, it.seq, it.seq])
            else:
                dst_text, dst_raw = encode_path(r.dst) if r.dst is not None else (None, None)
                rows.append(
                    (
                        r.state, r.note, placed[0] if placed else None, placed[1] if placed else None, r.hash,
                        dst_text, r.dst is not None, dst_raw, r.action, stamp, it.op_id, it.seq,
                    )
                )  # fmt: skip
            if r.state != "done":
                continue
            if it.undo_of is not None:
                undone.append((stamp, it.undo_of))
            if it.file_id is not None and (r.action or it.action) == "move" and it.src is not None:
                moved.append((it.file_id, r.dst or it.dst))
        c.executemany(
            "UPDATE operation_items SET state='done', finished_at=? WHERE op_id=? AND seq BETWEEN ? AND ?",
            spans,
        )
        c.executemany(
            "UPDATE operation_items SET state=?, note=?, dst_dev=COALESCE(?, dst_dev),"
            " dst_inode=COALESCE(?, dst_inode), hash=COALESCE(?, hash), dst=COALESCE(?, dst),"
            " dst_raw=CASE WHEN ? THEN ? ELSE dst_raw END, action=COALESCE(?, action),"
            " finished_at=? WHERE op_id=? AND seq=?",
            rows,
        )
        if undone:
            c.executemany("UPDATE operation_items SET state='undone', finished_at=? WHERE id=?", undone)
        if moved:
            self._follow_moves(c, moved)

    _SET_PATH = "UPDATE files SET path=?, path_raw=?, dir=?, name=?, root_id=?, status='present' WHERE id=?"

    def _follow_moves(self, c: sqlite3.Connection, moved: list[tuple[int, str]]) -> None:
        """`files` rows of the files that moved take their new paths, in the order they moved. Where a new
        path is still held by another row (a file gone from disk that was never re-indexed), that row keeps
        its history under a marked path; a file that moves on within the batch (a swap through a temp name)
        overwrites its mark with its own update."""
        sep = os.sep
        rows = [
            (
                *encode_path(path),
                path.rpartition(sep)[0] or sep,
                path.rpartition(sep)[2],
                self.root_id_for(path),
                fid,
            )
            for fid, path in moved
        ]
        c.execute("SAVEPOINT follow")
        try:
            c.executemany(self._SET_PATH, rows)
        except sqlite3.IntegrityError:
            c.execute("ROLLBACK TO follow")
            c.executemany(
                "UPDATE files SET path = path || ' (gone #' || id || ')' WHERE path = ? AND id <> ?",
                ((row[0], row[-1]) for row in rows),
            )
            c.executemany(self._SET_PATH, rows)
        c.execute("RELEASE follow")

    def set_status(self, op_id: int, status: str, error: str | None = None) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE operations SET status=?, error=?, finished_at=? WHERE id=?",
                (status, error, now(), op_id),
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
        """--resume: aborted and failed items become pending again (durably, before acting)."""
        with self.tx(durable=True) as c:
            c.execute(
                "UPDATE operation_items SET state='pending', note=NULL"
                " WHERE op_id=? AND state IN ('aborted', 'failed')",
                (op_id,),
            )
            c.execute("UPDATE operations SET status='running', finished_at=NULL WHERE id=?", (op_id,))

    # --- reading -------------------------------------------------------------------------------------

    def items(
        self, op_id: int, states: Sequence[str] | None = None, *, reverse: bool = False
    ) -> Iterator[LedgerItem]:
        """A run's items in seq order (or reversed), read a chunk at a time."""
        last = -1 if not reverse else 1 << 62
        cmp, order = (">", "ASC") if not reverse else ("<", "DESC")
        where = f" AND state IN ({','.join('?' * len(states))})" if states else ""
        while True:
            rows = self.conn.execute(
                f"SELECT {_ITEM_COLS}, dst_dev, dst_inode FROM operation_items WHERE op_id=? AND seq {cmp} ?"
                f"{where} ORDER BY seq {order} LIMIT {CHUNK}",
                [op_id, last, *(states or ())],
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _item(r)
            last = rows[-1][1]

    def placed(self, op_id: int) -> Iterator[tuple[LedgerItem, int, int | None, int | None]]:
        """A run's done items, newest first, each with its row id and the device and inode of what it
        placed (what a rollback undoes and checks)."""
        last = 1 << 62
        while True:
            rows = self.conn.execute(
                f"SELECT {_ITEM_COLS}, id, dst_dev, dst_inode FROM operation_items"
                f" WHERE op_id=? AND seq < ? AND state='done' ORDER BY seq DESC LIMIT {CHUNK}",
                (op_id, last),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _item(r), r[15], r[16], r[17]
            last = rows[-1][1]

    def operation(self, op_id: int, *, counts: bool = True) -> OperationRow | None:
        rows = self._operations("WHERE id=?", (op_id,), counts=counts)
        return rows[0] if rows else None

    def counts(self, op_id: int) -> dict[str, int]:
        """How many items of run ``op_id`` are in each state."""
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

    def root_id_for(self, path: str) -> int | None:
        """The indexed root that contains ``path`` (so `files.root_id` stays true after a move), if any."""
        if self._roots is None:
            self._roots = [(int(r[0]), str(r[1])) for r in self.conn.execute("SELECT id, path FROM roots")]
        best: tuple[int, int] | None = None
        for rid, rpath in self._roots:
            rp = rpath.rstrip(os.sep)
            if (path == rp or path.startswith(rp + os.sep)) and (best is None or len(rp) > best[1]):
                best = (rid, len(rp))
        return best[0] if best else None


def inode_of(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _intent_row(op_id: int, s: Step) -> tuple[Any, ...]:
    src, src_raw = encode_path(s.src) if s.src is not None else (None, None)
    dst, dst_raw = encode_path(s.dst)
    fp = s.fp
    # The temp name a copy will use (a move across devices uses one too; recovery derives it either way).
    tmp = part_path(op_id, s.seq, s.dst) if s.action in ("copy", "restore") else None
    return (
        op_id, s.seq, s.file_id, s.action, src, src_raw, dst, dst_raw, tmp,
        fp.size if fp else None, fp.mtime_ns if fp else None, fp.dev if fp else None, fp.inode if fp else None,
        s.undo_of,
    )  # fmt: skip


def _check_file_ids(c: sqlite3.Connection, steps: Sequence[Step]) -> None:
    """Every library id the items name is a `files` row (a plan file can name one the library no longer
    has): refused before anything is written, with the ids."""
    ids = sorted({s.file_id for s in steps if s.file_id is not None})
    if not ids:
        return
    known = {
        r[0]
        for r in c.execute(
            "SELECT id FROM files WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise UsageError(
            f"the plan names library file id(s) {', '.join(map(str, missing[:3]))} that the library no"
            " longer has; nothing was moved",
            hint="write the plan again (anivault organize --plan FILE)",
        )
