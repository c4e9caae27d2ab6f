"""Carry out a run's pending ledger items against the disk, and write the outcomes back in batches.

Items run in ledger order in one thread: order matters (folders before files, a vacated name before its
reuse, the halves of a swap), and same-device moves are metadata operations that a pool would not speed up.
Outcomes go to the ledger writer in batches (every BATCH items or BATCH_SECONDS); it commits them every
COMMIT_ITEMS items or COMMIT_SECONDS, after the folders they touched are fsynced, so a `done` in the ledger
always describes a durable state.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import queue
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from anivault.errors import Interrupted
from anivault.organize.fileops import (
    FAST_MOVES,
    HAVE_PROC_FD,
    PROC_FD,
    FolderHandles,
    SourceChanged,
    SourceKept,
    VerifyFailed,
    copy_move,
    crashpoint,
    fast_move,
    lean_runner,
    lstat_or_none,
    move_same_device,
    sync_folders,
    through_handle,
)
from anivault.organize.ledger import RUN_CACHE_KIB, ItemResult, Ledger, LedgerItem, StepStream, item_of_step
from anivault.organize.plan import Step, numbered

# A batch is handed to the writer thread every 5,000 items or 2 s; the writer writes it at once, and commits
# every COMMIT_ITEMS items with one syncfs per filesystem before (a journal commit that stalls concurrent
# renames): 25,000 items keeps that, and the pages each commit rewrites, small (scripts/bench_organize.py).
BATCH = 5000
BATCH_SECONDS = 2.0
# The last TAIL_ITEMS items go in batches of TAIL_BATCH: what the writer still has to write once the last
# file has moved is then one small batch, not up to 5,000 items' `files` rows (0.05-0.12 s at 100k).
TAIL_ITEMS = 2 * BATCH
TAIL_BATCH = 1000
COMMIT_ITEMS = 25000
# The writer also commits when the run reaches these many items before its end, so its last commit holds
# only the last few batches' pages, not up to COMMIT_ITEMS items' (docs/organize-benchmark-log.md).
COMMIT_BEFORE_END = (6000, 1500)
COMMIT_SECONDS = 2.0
# Lean moves per call into C (_lean.c): ~4 ms of renames between two looks at Ctrl-C and the clock.
LEAN_CALL = 256
# A file held open elsewhere (Windows sharing violation, EBUSY): retry with backoff, then report it.
RETRY_DELAYS = (0.5, 1.0, 2.0)
STOP_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT}


@dataclass(slots=True)
class RunOptions:
    verify: bool = False
    conflict: str = "skip"


@dataclass(slots=True)
class RunSummary:
    op_id: int
    kind: str
    status: str
    counts: dict[str, int]
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (src, dst, note), first 50
    stopped: str | None = None


class StopRun(Exception):
    """Stop the whole run after this item (disk full, read-only destination, --conflict fail)."""


class _Context:
    def __init__(self, ledger: Ledger, op_id: int, kind: str, root: str | None, options: RunOptions) -> None:
        self.ledger = ledger
        self.op_id = op_id
        self.kind = kind
        self.root = root
        self.options = options
        self.dirs: set[str] = set()
        self._dev: dict[str, int] = {}
        self._confined: set[str] = set()
        # Folder handles for the lean same-device move; targets are checked like check_folder's paths.
        self.sources = FolderHandles()
        self.targets = FolderHandles(confine=self.check_folder, exact=root is not None)

    def dev_of(self, folder: str) -> int:
        dev = self._dev.get(folder)
        if dev is None:
            dev = self._dev[folder] = os.stat(folder).st_dev
        return dev

    def pinned(self, path: str) -> str:
        """``path`` as the general path writes it: checked like check_folder, then (Linux) reached through
        the open handle of its folder, so a folder swapped for a symlink between the check and the write
        cannot redirect it (RELIABILITY scenario 16). Use it right away: another folder's handle may evict it.
        """
        folder, _, name = path.rpartition(os.sep)
        folder = folder or os.sep
        self.check_folder(folder)
        if not HAVE_PROC_FD:
            return path
        try:
            fd = self.targets.get(folder)[0]
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink: swapped in since check_folder
                raise OSError(errno.ELOOP, "refusing to write through a symlink", folder) from exc
            raise
        return through_handle(fd, name)

    def check_folder(self, folder: str) -> None:
        """Refuse to write through a symlink or outside the library root (re-checked at execution, G6)."""
        if folder in self._confined:
            return
        if self.root is not None:
            real = os.path.realpath(folder)
            root = self.root
            if real != folder or not (real == root or real.startswith(root.rstrip(os.sep) + os.sep)):
                raise OSError(
                    errno.ELOOP, "refusing to write through a symlink or outside the library", folder
                )
        elif not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)  # rollback: the original folder may have been removed
        self._confined.add(folder)


class Batch:
    """One batch of outcomes: runs of items done exactly as planned, and every other outcome in full."""

    __slots__ = ("_hi", "_lo", "commit", "folders", "op_id", "plain", "results", "size")

    def __init__(self, op_id: int) -> None:
        self.op_id = op_id
        self.commit = False  # the writer commits once it has written this batch
        self.plain: list[tuple[int, int, int]] = []  # (op_id, first seq, last seq)
        self.results: list[ItemResult] = []
        self.size = 0
        self.folders: set[str] = set()  # whose entries changed: made durable before the commit
        self._lo = self._hi = -1  # the current run of lean moves, not yet in `plain`

    def add_lean(self, seq: int) -> None:
        """A lean move, done exactly as planned: it only extends the current run of seqs."""
        if self._hi < 0:
            self._lo = seq
        self._hi = seq

    def add(self, result: ItemResult) -> None:
        self.end_run()
        self.results.append(result)

    def end_run(self) -> None:
        if self._hi >= 0:
            self.plain.append((self.op_id, self._lo, self._hi))
            self._hi = -1


_IDLE = Batch(0)  # the writer's queue stayed empty for COMMIT_SECONDS


class BatchWriter:
    """The run's one writer thread: writes each batch's outcomes, and commits them after making the
    folders they touched durable.

    File operations and ledger writes overlap: the file calls release Python's lock, and so does SQLite
    for each statement, which is why the writer does its per-file work in set-based statements
    (Ledger.record_into). The order that matters is kept: outcomes are committed `done` only after their
    folders are synced.
    """

    def __init__(self, ledger: Ledger) -> None:
        # A batch moves files whose rows and index entries can lie all over `files` (ids follow the index's
        # walk, a plan follows the targets): with SQLite's default 2 MB page cache each batch re-read and
        # spilled most of them. 64 MB, taken only as pages are used: 100k moves 3.0x -> 2.6x (apply) and
        # 3.5x -> 2.8x (rollback) of the bare loop where they did (docs/organize-benchmark-log.md, the
        # first walk layout).
        self._ledger = Ledger(ledger.db, check_foreign_keys=False, cache_kib=RUN_CACHE_KIB)
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # The batches' statements run as they arrive, beside the file operations, but their transaction is
        # committed only every COMMIT_ITEMS items (COMMIT_SECONDS, or the run's end): a batch's `files`
        # rows lie all over the table when ids follow the index's walk, so each commit rewrote most of the
        # table's pages, and its automatic checkpoint copied them again. With 5,000-item commits, 100k
        # moves wrote 770 MB; committing every 25,000 writes 350 MB (docs/organize-benchmark-log.md).
        # Items wait `pending` a little longer, which recovery resolves against the disk as before.
        conn = self._ledger.conn
        folders: set[str] = set()
        open_items = 0
        opened = 0.0
        stop = False
        while not stop:
            # Every batch waiting when the writer comes back goes in at once. With a transaction open it
            # waits at most COMMIT_SECONDS: a slow item (a long copy) does not hold earlier ones uncommitted.
            batches: list[Batch] = []
            try:
                item = self._queue.get(timeout=COMMIT_SECONDS if open_items else None)
            except queue.Empty:
                item = _IDLE
            while item is not _IDLE:
                if item is None:
                    stop = True
                    break
                if item.results or item.plain or item.commit:
                    batches.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if self._error is not None:
                continue
            try:
                if batches:
                    if not open_items:
                        conn.execute("BEGIN IMMEDIATE")
                        opened = time.monotonic()
                    self._ledger.record_into(
                        conn, [r for b in batches for r in b.results], [p for b in batches for p in b.plain]
                    )
                    folders.update(*(b.folders for b in batches))
                    open_items += sum(max(b.size, 1) for b in batches)
                if open_items and (
                    stop
                    or open_items >= COMMIT_ITEMS
                    or any(b.commit for b in batches)
                    or time.monotonic() - opened > COMMIT_SECONDS
                ):
                    # A `done` must describe a durable state: the batches' folders first, then the commit.
                    if folders:
                        crashpoint("before_dir_fsync")
                        sync_folders(folders)
                    crashpoint("before_done_commit")
                    conn.execute("COMMIT")
                    folders = set()
                    open_items = 0
            except BaseException as exc:  # surfaced to the run's thread at the next put/close
                self._error = exc
                open_items = 0
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")

    def put(self, batch: Batch) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._ledger.close()
        if self._error is not None:
            raise self._error


class CtrlC:
    """Ctrl-C during a run. The first one asks the run to stop after the item in hand, so every file
    operation that happened is recorded: a KeyboardInterrupt raised between a rename and its record
    would leave a moved file marked "not attempted". A second one stops at once, as a crash would, and
    recovery settles the item in hand against the disk. (Only the main thread can take signals; elsewhere
    Ctrl-C keeps Python's behaviour.)"""

    def __init__(self) -> None:
        self.requested = False
        self.forced = False
        self._installed = False
        self._old: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, _signum: int, _frame: object) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old if self._old is not None else signal.default_int_handler)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a run. A run makes tens of thousands of small objects and no
    cycles; left on, the collector walked the whole heap every few thousand items, and that was a quarter
    of the executor's time at 20k files (scripts/bench_organize.py). Garbage is still freed as it goes.
    Pauses nest (planning holds one inside the organize command's): only the outermost turns the collector
    back on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_operation(
    ledger: Ledger,
    op_id: int,
    options: RunOptions,
    progress: Callable[[int], None] | None = None,
    steps: Sequence[Step] | StepStream | None = None,
) -> RunSummary:
    """Execute every pending item of run ``op_id`` (or, for a run just written, its ``steps``: the items
    are exactly those, and are not read back, or for a rollback the StepStream that reads them while the
    run goes on); Ctrl-C stops cleanly. Callers hold service.writing, which pauses the cycle collector."""
    with CtrlC() as ctrl_c:
        return _run_operation(ledger, op_id, options, progress, steps, ctrl_c)


def _run_operation(
    ledger: Ledger,
    op_id: int,
    options: RunOptions,
    progress: Callable[[int], None] | None,
    steps: Sequence[Step] | StepStream | None,
    ctrl_c: CtrlC,
) -> RunSummary:
    op = ledger.operation(op_id, counts=False)
    assert op is not None
    root = op.dest
    ctx = _Context(ledger, op_id, op.kind, root, options)
    batch = Batch(op_id)
    ctx.dirs = batch.folders
    last_flush = time.monotonic()
    stopped: str | None = None
    i = total = tail = 0  # batches hold BATCH items, TAIL_BATCH from item `tail` on (the last TAIL_ITEMS)
    flushed_at = 0  # i at the last flush
    writer = BatchWriter(ledger)

    def flush() -> None:
        nonlocal batch, last_flush, flushed_at
        batch.end_run()
        batch.commit = any(flushed_at < k <= i for k in commit_at)
        flushed_at = i
        writer.put(batch)
        batch = Batch(op_id)
        ctx.dirs = batch.folders
        last_flush = time.monotonic()

    def recorded(n: int, read_clock: bool) -> None:
        """After ``n`` items went into the batch: progress, Ctrl-C (the items in hand are recorded: stop
        here), and a flush when the batch is full or (if ``read_clock``) old enough."""
        batch.size += n
        if progress is not None:
            progress(n)
        if ctrl_c.requested:
            raise KeyboardInterrupt
        if batch.size >= (TAIL_BATCH if i >= tail else BATCH) or (
            read_clock and time.monotonic() - last_flush > BATCH_SECONDS
        ):
            flush()

    sources, targets = ctx.sources, ctx.targets
    stream: StepStream | None = None
    if isinstance(steps, StepStream):
        stream = steps
        todo, total = stream.steps, stream.total  # a list that grows while the run goes on
    else:
        todo = (
            steps
            if isinstance(steps, list)
            else list(steps if steps is not None else ledger.pending_steps(op_id))
        )
        total = len(todo)
    ready = len(todo)  # items of todo that are in (all of them, but for a stream)
    # A run just written has no items but these: its outcomes, tallied here, are its counts, and finish
    # need not count 100,000 rows again (0.03-0.05 s). A resumed run has earlier outcomes: finish counts.
    tally: dict[str, int] | None = {} if steps is not None else None
    lean_done = 0
    lean = FAST_MOVES
    many = lean_runner()
    tail = max(0, total - TAIL_ITEMS) if TAIL_BATCH < BATCH else total
    commit_at = [total - k for k in COMMIT_BEFORE_END if total - k > 0]
    try:
        while i < total:
            if i >= ready:
                assert stream is not None
                ready = stream.wait(i)
                if i >= ready:  # the read ended short: the rest comes back from the ledger
                    todo.extend(stream.remainder(ledger))
                    ready = len(todo)
                    stream = None
                    if i >= ready:
                        break
            if many is not None:
                # Runs of lean moves in C, up to LEAN_CALL at a time (Ctrl-C and the clock are looked at
                # between calls); it stops at the first item that is not one, which the loop below takes.
                room = (BATCH if i < tail else TAIL_BATCH) - batch.size
                moved, why = many(
                    todo, i, min(ready, i + LEAN_CALL, i + room, tail if i < tail else total),
                    sources._open, targets._open, batch.folders,
                )  # fmt: skip
                if moved:
                    batch.add_lean(todo[i].seq)
                    batch.add_lean(todo[i + moved - 1].seq)
                    i += moved
                    lean_done += moved
                    recorded(moved, True)
                if why == 0:
                    continue
            item = todo[i]
            i += 1
            src, fp = item.src, item.fp
            if (
                lean
                and fp is not None
                and src is not None
                and item.action == "move"
                and fast_move(src, item.dst, fp, sources, targets, batch.folders)
            ):
                # Most items of a run: a lean move, done exactly as planned (inode, size, mtime kept): the
                # commit marks a whole run of them in one statement.
                batch.add_lean(item.seq)
                lean_done += 1
                quick = True
            else:
                full = item_of_step(op_id, item)
                try:
                    result = execute_item(full, ctx)
                except StopRun as stop:
                    stopped = str(stop)
                    batch.add(ItemResult(full, "failed", stopped))
                    if tally is not None:
                        tally["failed"] = tally.get("failed", 0) + 1
                    break
                batch.add(result)
                if tally is not None:
                    tally[result.state] = tally.get(result.state, 0) + 1
                quick = False
            # A lean move takes microseconds: the clock is read after every 256 of them, not every one.
            recorded(1, not quick or not (batch.size + 1) & 255)
        flush()
    except KeyboardInterrupt:
        flush()
        writer.close()
        if ctrl_c.forced:
            # Stopped at once: an item may have happened without its record. The run stays `running`, and
            # recovery (first thing any writing command does) resolves its pending items against the disk.
            raise Interrupted(
                f"run {op_id} stopped at once; finished items are recorded, the one in hand is checked next",
                hint="run `anivault recover` (any organize or rollback also does it first)",
            ) from None
        ledger.mark_pending(op_id, "aborted", "not attempted: interrupted")
        ledger.set_status(op_id, "interrupted", "interrupted by the user")
        hint = "anivault organize --resume" if op.kind == "organize" else f"anivault rollback {op.undo_of}"
        raise Interrupted(
            f"run {op_id} interrupted; finished items are recorded", hint=f"finish it: {hint}"
        ) from None
    except BaseException:
        # Commit what finished; the rest stays pending for recovery to resolve against the disk.
        flush()
        writer.close()
        raise
    finally:
        if stream is not None:
            stream.close()
        sources.close()
        targets.close()
    writer.close()
    if stopped is not None:
        aborted = ledger.mark_pending(op_id, "aborted", f"not attempted: the run stopped ({stopped})")
        if tally is not None:
            tally["aborted"] = aborted
    if tally is not None:
        if lean_done:
            tally["done"] = tally.get("done", 0) + lean_done
        tally = {state: k for state, k in tally.items() if k}
    return finish(ledger, op_id, stopped, tally)


def finish(
    ledger: Ledger, op_id: int, stopped: str | None = None, counts: dict[str, int] | None = None
) -> RunSummary:
    """Derive and store the run's status from its items' states (``counts``: the executor's tally of a
    run it carried out from start to end, which is what counting the items would give)."""
    op = ledger.operation(op_id, counts=False)
    assert op is not None
    if counts is None:
        counts = ledger.counts(op_id)
    if counts.get("pending"):
        status = "running"
    elif stopped is not None:
        status = "failed"
    elif counts.get("aborted"):
        status = "interrupted"
    elif counts.get("failed") or counts.get("conflict") or (op.kind == "rollback" and counts.get("skipped")):
        status = "partial" if counts.get("done") else "failed"
    else:
        status = "done"
    ledger.set_status(op_id, status, stopped)
    if op.kind == "rollback" and op.undo_of is not None and status in ("done", "partial"):
        ledger.set_status(op.undo_of, "rolled_back" if status == "done" else "partial_rolled_back")
    bad = [state for state in ("failed", "conflict", "skipped", "aborted") if counts.get(state)]
    problems = [
        (it.src or "", it.dst, it.note or it.state)
        for it, _ in zip(ledger.items(op_id, bad) if bad else (), range(50), strict=False)
    ]
    return RunSummary(op_id, op.kind, status, counts, problems, stopped)


def _describe(exc: OSError, path: str, need: int | None = None) -> str:
    where = exc.filename if isinstance(exc.filename, str) else None
    if where is None or where.startswith(PROC_FD + "/"):
        where = path  # a path through a folder handle means nothing to the user: name the target
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(os.path.dirname(path) or ".").free
            needs = f"need {need:,}, " if need is not None else ""
            return f"destination full ({needs}free {free:,} bytes)"
        except OSError:
            return "destination full"
    if exc.errno == errno.EROFS:
        return "read-only filesystem"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {where}"
    return f"{exc.strerror or exc}: {where}"


def _with_retries(item: LedgerItem, ctx: _Context) -> ItemResult:
    for delay in (*RETRY_DELAYS, None):
        try:
            return _execute(item, ctx)
        except PermissionError as exc:
            if getattr(exc, "winerror", None) != 32 or delay is None:
                raise
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ETXTBSY) or delay is None:
                raise
        time.sleep(delay)
    raise AssertionError("unreachable")


def execute_item(item: LedgerItem, ctx: _Context) -> ItemResult:
    """Perform one item; returns its outcome. Raises StopRun for errors that doom the rest of the run."""
    try:
        return _with_retries(item, ctx)
    except StopRun:
        raise
    except OSError as exc:
        note = _describe(exc, item.dst, item.fp.size if item.fp else None)
        if getattr(exc, "winerror", None) == 32 or exc.errno in (errno.EBUSY, errno.ETXTBSY):
            note = f"file in use, gave up after {len(RETRY_DELAYS) + 1} tries: {exc.filename or item.src}"
        if exc.errno in STOP_ERRNOS:
            raise StopRun(note) from exc
        return ItemResult(item, "failed", note)


def _execute(item: LedgerItem, ctx: _Context) -> ItemResult:
    action = item.action
    if action == "mkdir":
        parent = os.path.dirname(item.dst)
        root = ctx.root or ""
        if item.dst == root or root.startswith(item.dst + os.sep):
            # Creating the library root (or its missing parents): only refuse a symlinked path.
            if os.path.realpath(parent) != parent:
                raise OSError(errno.ELOOP, "refusing to write through a symlink", parent)
            where = item.dst
        else:
            where = ctx.pinned(item.dst)
        try:
            os.mkdir(where)
        except FileExistsError:
            if os.path.isdir(item.dst) and not os.path.islink(item.dst):
                return ItemResult(item, "done", "existed")  # not ours: rollback leaves it
            return ItemResult(item, "failed", "a file is in the way of this folder")
        ctx.dirs.add(parent)
        return ItemResult(item, "done")
    if action == "rmdir":
        try:
            os.rmdir(item.dst)
        except FileNotFoundError:
            return ItemResult(item, "done", "already gone")
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return ItemResult(
                    item, "skipped", "folder not empty (holds files AniVault did not put there)"
                )
            raise
        ctx.dirs.add(os.path.dirname(item.dst))
        return ItemResult(item, "done")
    if action == "unlink":
        return _unlink(item, ctx)
    assert item.src is not None and item.fp is not None
    st = lstat_or_none(item.src)
    what = "target" if ctx.kind == "rollback" else "source"
    if st is None:
        return ItemResult(item, "failed" if ctx.kind == "organize" else "skipped", f"{what} missing")
    diff = item.fp.differences(st)
    if diff:
        when = "since organize" if ctx.kind == "rollback" else "since it was planned"
        return ItemResult(
            item,
            "failed" if ctx.kind == "organize" else "skipped",
            f"{what} changed {when}: {', '.join(diff)}",
        )
    parent = os.path.dirname(item.dst)
    ctx.check_folder(parent)
    dst = item.dst
    if item.action == "move" and st.st_dev == ctx.dev_of(parent):
        # The common case, kept lean: one atomic no-clobber rename (inode, size and mtime unchanged).
        at = ctx.pinned(dst)
        try:
            method = move_same_device(item.src, at)
        except FileExistsError:
            pass  # the conflict policy below decides
        except SourceKept as kept:  # link made, source could not be unlinked: it is a hardlink now
            return ItemResult(item, "done", str(kept), None, "hardlink", dst_st=os.lstat(at))
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # bind mounts of one device: _place copies instead
                raise
        else:
            ctx.dirs.add(parent)
            ctx.dirs.add(item.src.rpartition(os.sep)[0] or os.sep)
            return ItemResult(item, "done", None if method == "rename" else method)
    for _attempt in range(1000):
        try:
            return _place(item, ctx, dst, st)
        except FileExistsError:
            if ctx.kind == "rollback":
                return ItemResult(item, "skipped", "original path is occupied by another file")
            if ctx.options.conflict == "fail":
                raise StopRun(f"target appeared since planning: {dst} (--conflict fail)") from None
            if ctx.options.conflict == "skip":
                return ItemResult(item, "skipped", "target appeared since planning")
            dst = numbered(item.dst, _attempt + 2)
    return ItemResult(item, "failed", "no free name for --conflict rename")


def _place(item: LedgerItem, ctx: _Context, dst: str, st: os.stat_result) -> ItemResult:
    fp = item.fp
    assert fp is not None and item.src is not None
    src = item.src
    renamed = dst if dst != item.dst else None
    action = item.action
    # Every write below goes through the open handle of the target's folder (checked, then pinned).
    at = ctx.pinned(dst)
    try:
        if action == "move" and st.st_dev == ctx.dev_of(os.path.dirname(dst)):
            try:
                method = move_same_device(src, at)
            except OSError as exc:
                if exc.errno != errno.EXDEV:  # bind mounts of one device: fall through to copying
                    raise
            else:
                ctx.dirs.add(os.path.dirname(dst))
                ctx.dirs.add(os.path.dirname(src))
                # A rename keeps inode, size and mtime: the stat rollback will check is the source's.
                return ItemResult(item, "done", None if method == "rename" else method, renamed, dst_st=st)
        if action in ("move", "copy"):
            from anivault.organize.ledger import part_path

            part = part_path(item.op_id, item.seq, at)
            try:
                digest = copy_move(
                    src, at, part, fp, verify=ctx.options.verify, remove_source=action == "move"
                )
            except SourceChanged as exc:
                return ItemResult(item, "failed", f"source changed during copy, kept; retry later ({exc})")
            except VerifyFailed as exc:
                return ItemResult(item, "failed", f"verify failed, source kept: {exc}")
            return ItemResult(item, "done", None, renamed, dst_st=os.lstat(at), hash=digest)
        if action == "hardlink":
            try:
                os.link(src, at)
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    return ItemResult(item, "failed", "hardlink impossible: different filesystem")
                raise
            ctx.dirs.add(os.path.dirname(dst))
            return ItemResult(item, "done", None, renamed, dst_st=st)
        if action == "symlink":
            os.symlink(os.path.abspath(src), at)
            ctx.dirs.add(os.path.dirname(dst))
            return ItemResult(item, "done", None, renamed, dst_st=os.lstat(at))
    except SourceKept as kept:
        # The target is complete and durable; the source stays where it is, so this is a copy now.
        new_action = "hardlink" if kept.method == "link" else "copy"
        return ItemResult(item, "done", str(kept), renamed, new_action, dst_st=os.lstat(at))
    raise ValueError(f"unknown action {action!r}")


def _unlink(item: LedgerItem, ctx: _Context) -> ItemResult:
    """Rollback of a copy, hardlink or symlink: remove it only if it is still what organize made."""
    # Looked at by path first: pinning a missing folder would create it (a rollback recreates the folders
    # it moves files back into).
    if lstat_or_none(item.dst) is None:
        return ItemResult(item, "done", "already gone")
    at = ctx.pinned(item.dst)  # checked, then removed, in the folder that was checked
    st = lstat_or_none(at)
    if st is None:
        return ItemResult(item, "done", "already gone")
    if item.fp is None:  # a symlink: it must still point at the original
        try:
            target = os.readlink(at)
        except OSError:
            return ItemResult(item, "skipped", "no longer the symlink organize made")
        if item.src is not None and target != os.path.abspath(item.src):
            return ItemResult(item, "skipped", "symlink now points elsewhere")
    else:
        diff = item.fp.differences(st)
        if diff:
            return ItemResult(item, "skipped", f"target changed since organize: {', '.join(diff)}")
    os.unlink(at)
    ctx.dirs.add(os.path.dirname(item.dst))
    return ItemResult(item, "done")
