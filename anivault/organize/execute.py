"""Carry out a run's pending ledger items against the disk, and write the outcomes back in batches.

One loop, the same on every platform: for each item, check the source against its fingerprint, rename (or
copy, link) without replacing, and look closer only when that fails. Items run in ledger order in one
thread: order matters (folders before files, a vacated name before its reuse, the halves of a swap), and
same-device moves are metadata operations that a pool would not speed up.

Outcomes are committed every COMMIT_SECONDS (and at the end), after the folders they touched are made
durable, so a `done` in the ledger always describes a durable state. One thread does both: a writer thread
beside the loop made a run slower, not faster (the two traded Python's lock at every file operation and
every row, docs/organize.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from anivault.errors import Interrupted
from anivault.organize.fileops import (
    SourceChanged,
    SourceKept,
    TargetFolders,
    VerifyFailed,
    copy_move,
    crashpoint,
    fsync_dir,
    lstat_or_none,
    move_no_replace,
    not_a_file,
    shown,
    sync_folders,
)
from anivault.organize.ledger import ItemResult, Ledger, LedgerItem, inode_of, part_path
from anivault.organize.plan import Step, numbered
from anivault.organize.undo import plan_undo

# Outcomes are committed this often (and at the end): a commit writes every page its transaction changed,
# and the moved files' `files` rows lie all over the table, so small commits cost a page per file
# (docs/organize.md). Items wait `pending` a little longer; recovery resolves them like any other.
COMMIT_SECONDS = 2.0
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


class Batch:
    """Outcomes not yet committed, and the folders whose entries they changed."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.results: list[ItemResult] = []
        self.folders: set[str] = set()
        self.started = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.started >= COMMIT_SECONDS

    def commit(self) -> None:
        """Make the folders durable, then commit the outcomes: a `done` always describes a durable state."""
        if self.results:
            crashpoint("before_dir_fsync")
            sync_folders(self.folders)
            with self.ledger.tx() as c:
                self.ledger.record_into(c, self.results)
                crashpoint("before_done_commit")
        self.results = []
        self.folders = set()
        self.started = time.monotonic()


class CtrlC:
    """Ctrl-C during a run. The first one asks the run to stop after the item in hand, so every file
    operation that happened is recorded (a KeyboardInterrupt between a rename and its record would leave
    a moved file marked "not attempted"). A second one stops at once, as a crash would, and recovery
    settles the item in hand against the disk. Only the main thread can take signals."""

    def __init__(self) -> None:
        self.requested = False
        self.forced = False
        self._old: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum: int, _frame: object) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class _Context:
    def __init__(self, op_id: int, kind: str, root: str | None, options: RunOptions) -> None:
        self.op_id = op_id
        self.kind = kind
        self.options = options
        self.targets = TargetFolders(root)
        self.root = root
        self.touched: set[str] = set()

    def touch(self, *paths: str) -> None:
        for p in paths:
            self.touched.add(p.rpartition(os.sep)[0] or os.sep)


def run_operation(
    ledger: Ledger,
    op_id: int,
    options: RunOptions,
    progress: Callable[[int], None] | None = None,
    steps: Iterable[Step] | None = None,
) -> RunSummary:
    """Carry out run ``op_id``: its ``steps`` when it was just written, else its pending items."""
    op = ledger.operation(op_id, counts=False)
    assert op is not None
    ctx = _Context(op_id, op.kind, op.dest, options)
    todo = steps if steps is not None else list(ledger.items(op_id, ["pending"]))
    batch = Batch(ledger)
    ctx.touched = batch.folders
    stopped: str | None = None
    ctrl_c = CtrlC()
    try:
        with ctrl_c:
            for step in todo:
                if ctrl_c.requested:
                    raise KeyboardInterrupt
                item = step if isinstance(step, LedgerItem) else LedgerItem.of_step(op_id, step)
                try:
                    result = execute_item(item, ctx)
                except StopRun as stop:
                    stopped = str(stop)
                    batch.results.append(ItemResult(item, "failed", stopped))
                    break
                batch.results.append(result)
                if progress is not None:
                    progress(1)
                if batch.due():
                    batch.commit()
                    ctx.touched = batch.folders
            batch.commit()
    except KeyboardInterrupt:
        batch.commit()
        ctx.targets.close()
        if ctrl_c.forced:
            # Stopped at once: the item in hand may have happened without its record. The run stays
            # `running`, and recovery (the first thing any writing command does) settles it against the disk.
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
        with contextlib.suppress(BaseException):
            batch.commit()
        ctx.targets.close()
        raise
    ctx.targets.close()
    if stopped is not None:
        ledger.mark_pending(op_id, "aborted", f"not attempted: the run stopped ({stopped})")
    return finish(ledger, op_id, stopped)


def finish(ledger: Ledger, op_id: int, stopped: str | None = None) -> RunSummary:
    """Derive and store the run's status from its items' states."""
    op = ledger.operation(op_id)
    assert op is not None
    counts = op.counts
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
    where = shown(exc.filename, path) if isinstance(exc.filename, str) else path
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


def execute_item(item: LedgerItem, ctx: _Context) -> ItemResult:
    """Perform one item; returns its outcome. Raises StopRun for errors that doom the rest of the run."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return _execute(item, ctx)
        except StopRun:
            raise
        except OSError as exc:
            busy = getattr(exc, "winerror", None) == 32 or exc.errno in (errno.EBUSY, errno.ETXTBSY)
            if busy and delay is not None:
                time.sleep(delay)
                continue
            note = _describe(exc, item.dst, item.fp.size if item.fp else None)
            if busy:
                note = f"file in use, gave up after {len(RETRY_DELAYS) + 1} tries: {item.src or item.dst}"
            if exc.errno in STOP_ERRNOS:
                raise StopRun(note) from exc
            return ItemResult(item, "failed", note)
    raise AssertionError("unreachable")


def _execute(item: LedgerItem, ctx: _Context) -> ItemResult:
    action = item.action
    if action == "mkdir":
        return _mkdir(item, ctx)
    if action == "rmdir":
        return _rmdir(item, ctx)
    if action in ("unlink", "restore"):
        return _undo_placed(item, ctx)
    assert item.src is not None and item.fp is not None
    rollback = ctx.kind == "rollback"
    st = lstat_or_none(item.src)
    what = "target" if rollback else "source"
    if st is None:
        return ItemResult(item, "skipped" if rollback else "failed", f"{what} missing")
    odd = not_a_file(st)
    if odd is not None:
        return ItemResult(item, "skipped" if rollback else "failed", f"{what} is {odd}, not a file")
    diff = item.fp.differences(st)
    if diff:
        when = "since organize" if rollback else "since it was planned"
        return ItemResult(
            item, "skipped" if rollback else "failed", f"{what} changed {when}: {', '.join(diff)}"
        )
    dst = item.dst
    for attempt in range(2, 1000):
        try:
            return _place(item, ctx, dst, st)
        except FileExistsError:
            if not rollback and _same_file(item.src, dst, st):
                return _drop_source_name(item, ctx, dst, st)
            if rollback:
                return ItemResult(item, "skipped", "original path is occupied by another file")
            if ctx.options.conflict == "fail":
                raise StopRun(f"target appeared since planning: {dst} (--conflict fail)") from None
            if ctx.options.conflict == "skip":
                return ItemResult(item, "skipped", "target appeared since planning")
            dst = numbered(item.dst, attempt)
    return ItemResult(item, "failed", "no free name for --conflict rename")


def _same_file(src: str, dst: str, st: os.stat_result) -> bool:
    """``dst`` is another name (a hard link) of the file at ``src``, not the same name in another case."""
    other = lstat_or_none(dst)
    return (
        other is not None
        and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)
        and os.path.normcase(src) != os.path.normcase(dst)
        and st.st_nlink > 1
    )


def _drop_source_name(item: LedgerItem, ctx: _Context, dst: str, st: os.stat_result) -> ItemResult:
    """A move whose target is already a hard link of its source (an earlier `--action hardlink` run): the
    file is where it belongs, so only the source's name goes."""
    assert item.src is not None
    if item.action != "move":
        return ItemResult(
            item,
            "done",
            "already linked: the target is this file",
            dst if dst != item.dst else None,
            placed=inode_of(st),
        )
    fsync_dir(os.path.dirname(dst))
    os.unlink(item.src)
    crashpoint("after_src_unlink")
    ctx.touch(item.src)
    return ItemResult(
        item,
        "done",
        "the target was already a hard link of the source",
        dst if dst != item.dst else None,
        placed=inode_of(st),
    )


def _place(item: LedgerItem, ctx: _Context, dst: str, st: os.stat_result) -> ItemResult:
    """Put the source at ``dst`` without replacing anything; FileExistsError when something is there."""
    src, fp = item.src, item.fp
    assert src is not None and fp is not None
    renamed = dst if dst != item.dst else None
    at = ctx.targets.pin(dst)  # checked, then written through the folder's handle
    action = item.action
    try:
        if action == "move" and st.st_dev == ctx.targets.device(dst):
            try:
                method = move_no_replace(src, at)
            except OSError as exc:
                if exc.errno != errno.EXDEV:  # bind mounts of one device: copy instead
                    raise
            else:
                ctx.touch(src, dst)
                # A rename keeps inode, size and mtime: what rollback will check is the source's.
                return ItemResult(
                    item, "done", None if method == "rename" else method, renamed, placed=inode_of(st)
                )
        if action in ("move", "copy"):
            try:
                digest = copy_move(
                    src, at, part_path(item.op_id, item.seq, at), fp,
                    verify=ctx.options.verify, remove_source=action == "move",
                )  # fmt: skip
            except SourceChanged as exc:
                return ItemResult(item, "failed", f"source changed during copy, kept; retry later ({exc})")
            except VerifyFailed as exc:
                return ItemResult(item, "failed", f"verify failed, source kept: {exc}")
            ctx.touch(src, dst)
            return ItemResult(item, "done", None, renamed, placed=inode_of(os.lstat(at)), hash=digest)
        if action == "hardlink":
            try:
                os.link(src, at)
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    return ItemResult(item, "failed", "hardlink impossible: different filesystem")
                raise
            ctx.touch(dst)
            return ItemResult(item, "done", None, renamed, placed=inode_of(st))
        if action == "symlink":
            os.symlink(os.path.abspath(src), at)
            ctx.touch(dst)
            return ItemResult(item, "done", None, renamed, placed=inode_of(os.lstat(at)))
    except SourceKept as kept:
        # The target is complete and durable; the source stays where it is: a copy (or link) now.
        ctx.touch(dst)
        new_action = "hardlink" if kept.method == "link" else "copy"
        return ItemResult(item, "done", str(kept), renamed, new_action, placed=inode_of(os.lstat(at)))
    raise ValueError(f"unknown action {action!r}")


def _mkdir(item: LedgerItem, ctx: _Context) -> ItemResult:
    parent = os.path.dirname(item.dst)
    root = ctx.root or ""
    if item.dst == root or root.startswith(item.dst + os.sep):
        # The library root itself (or its missing parents): only a symlinked path is refused.
        if os.path.realpath(parent) != parent:
            raise OSError(errno.ELOOP, "refusing to write through a symlink", parent)
        where = item.dst
    else:
        where = ctx.targets.pin(item.dst)
    try:
        os.mkdir(where)
    except FileExistsError:
        if os.path.isdir(item.dst) and not os.path.islink(item.dst):
            return ItemResult(item, "done", "existed")  # not ours: rollback leaves it
        return ItemResult(item, "failed", "a file is in the way of this folder")
    ctx.touch(item.dst)
    return ItemResult(item, "done")


def _rmdir(item: LedgerItem, ctx: _Context) -> ItemResult:
    try:
        os.rmdir(item.dst)
    except FileNotFoundError:
        return ItemResult(item, "done", "already gone")
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return ItemResult(item, "skipped", "folder not empty (holds files AniVault did not put there)")
        raise
    ctx.touch(item.dst)
    return ItemResult(item, "done")


def _undo_placed(item: LedgerItem, ctx: _Context) -> ItemResult:
    """Undo a copy, a hard link or a symlink (undo.plan_undo decides; the last copy is never removed)."""
    step = Step(item.seq, item.action, item.src, item.dst, item.fp, item.file_id)
    undo = plan_undo(step)
    if undo.do == "gone":
        return ItemResult(item, "done", undo.why)
    if undo.do in ("skip", "keep"):
        return ItemResult(item, "skipped", undo.why)
    placed = item.dst if item.action == "unlink" else item.src
    assert placed is not None
    if undo.do == "remove":
        os.unlink(placed)
        crashpoint("after_src_unlink")
        ctx.touch(placed)
        return ItemResult(
            item,
            "done",
            None if item.action == "unlink" else "the original is still there: library copy removed",
        )
    # move-back: the original is gone, so the library file takes its place (a recorded, no-clobber move)
    assert item.src is not None and item.fp is not None
    moved = LedgerItem(item.op_id, item.seq, "move", item.src, item.dst, item.fp, item.file_id)
    st = os.lstat(item.src)
    try:
        result = _place(moved, ctx, item.dst, st)
    except FileExistsError:
        return ItemResult(item, "skipped", "the original path was taken meanwhile; both kept")
    if result.state != "done":
        return ItemResult(item, result.state, result.note)
    return ItemResult(
        item, "done", "the original was gone: the library file moved back to it", placed=result.placed
    )
